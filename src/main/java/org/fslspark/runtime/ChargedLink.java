package org.fslspark.runtime;

import org.fslspark.transport.Codecs;
import org.fslspark.transport.Direction;
import org.fslspark.transport.ErrorFeedback;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.LinkPipe;
import org.fslspark.transport.Message;
import org.fslspark.transport.SiteLink;
import org.fslspark.transport.TrafficMeter;

/**
 * A client's messages that do not travel over a {@link org.fslspark.transport.FrameChannel}: the
 * models it receives through the driver (a broadcast or the round plan) and what it uploads
 * through a Spark shuffle or its task result. Each is metered and, on an emulated link, charged in
 * wall time inside the client's task with the same {@link LinkPipe} model the channel uses:
 * downloads must have arrived before the client starts ({@link #awaitDownloads()}), and the task
 * ends only when its uploads have arrived at the server site ({@link #awaitUploads()}). Uploads do
 * not hold up the client while they are on the link.
 */
final class ChargedLink {
    private final TrafficMeter meter;
    private final LinkPipe up;
    private final LinkPipe down;
    private final Codecs codecs;
    private final ErrorFeedback feedback;

    /**
     * {@code link} null: metered only. Uploads travel in {@code codecs}, top-k ones with the client's
     * {@code feedback} (null: none).
     */
    ChargedLink(TrafficMeter meter, SiteLink link, Codecs codecs, ErrorFeedback feedback) {
        this.meter = meter;
        this.up = link == null ? null : new LinkPipe(link);
        this.down = link == null ? null : new LinkPipe(link);
        this.codecs = codecs;
        this.feedback = feedback;
    }

    TrafficMeter meter() {
        return meter;
    }

    /**
     * A message the server site sends the client, as the client decodes it; sent together with the other
     * downloads of the round.
     */
    void download(Message m) {
        meter.record(Direction.DOWN, m);
        if (down != null) {
            down.admit(FrameCodec.frameBytes(m));
        }
    }

    /** Waits until every download has arrived. */
    void awaitDownloads() {
        if (down != null) {
            down.awaitDrained();
        }
    }

    /** A message the client sends the server site, encoded in the link's codecs; the client goes on at once. */
    byte[] upload(Message message) {
        Message m = codecs.prepare(message, feedback);
        byte[] frame = FrameCodec.encode(m);
        meter.record(Direction.UP, m);
        if (up != null) {
            up.admit(frame.length);
        }
        return frame;
    }

    /** Waits until every upload has arrived at the server site. */
    void awaitUploads() {
        if (up != null) {
            up.awaitDrained();
        }
    }
}
