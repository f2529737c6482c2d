package org.fslspark.transport;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A framed, metered, bidirectional channel over a TCP socket. The client end meters what it sends
 * as UP and what it receives as DOWN; the server end passes no meter, so nothing is counted twice.
 *
 * <p>With an emulated {@link SiteLink} (one per end, for the direction that end sends), a sent frame
 * enters a {@link LinkPipe} and a delivery thread completes it on the socket only when it would have
 * arrived: half the round trip after its last byte left, frames leaving one after another at the
 * link's throughput. (The thread writes all but the frame's last byte at once and the last byte at
 * the arrival time, so the receiver copies the bulk while the frame is on the link.) {@link #send} does not wait, as a sender with a large socket buffer would not;
 * the receiving end needs no change. Both ends emulate their own direction, so a round trip costs
 * the link's round-trip time plus both transmissions.
 *
 * <p>Over TLS ({@link Tls}) the channel's socket is the TLS socket and {@code raw} the plain one
 * beneath it: the meter books each message's frame bytes as it is sent or received, and on close
 * what the raw socket carried beyond the frames (TLS handshake, record headers and tags,
 * close_notify) as wire bytes of {@link Kind#CONTROL} with no payload.
 */
public final class FrameChannel implements Closeable {
    private static final long CLOSE_SLACK_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final TrafficMeter meter;
    private final MeteredSocket raw;
    private long framesSentBytes;
    private long framesReceivedBytes;
    private boolean transportBooked;
    private Emulation emulation;
    private volatile FrameLimits limits = FrameLimits.permissive(FrameLimits.DEFAULT_MAX_FRAME_BYTES);
    private volatile Codecs codecs = Codecs.FLOAT32;
    private volatile ErrorFeedback feedback;

    public FrameChannel(Socket socket, TrafficMeter meter) throws IOException {
        this(socket, meter, null);
    }

    /** A channel whose outgoing frames cross {@code link} (null: no emulation). */
    public FrameChannel(Socket socket, TrafficMeter meter, SiteLink link) throws IOException {
        this(socket, null, meter, link);
    }

    /**
     * A channel over {@code socket}, which is {@code raw} or a TLS socket layered over it; {@code raw}
     * (null: not metered below the frames) counts the bytes that crossed the network.
     */
    public FrameChannel(Socket socket, MeteredSocket raw, TrafficMeter meter, SiteLink link) throws IOException {
        this.socket = socket;
        this.raw = raw;
        socket.setTcpNoDelay(true);
        this.in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
        this.meter = meter;
        if (link != null) {
            emulate(link);
        }
    }

    /**
     * From now on, frames this end sends cross an emulated {@code link}. For an end that learns its
     * peer's site only from the first message (the server); call before sending anything else.
     */
    public synchronized void emulate(SiteLink link) {
        if (emulation != null) {
            throw new IllegalStateException("the channel to " + socket.getRemoteSocketAddress() + " already emulates " + emulation.pipe.link());
        }
        emulation = new Emulation(new LinkPipe(link));
    }

    /**
     * From now on, received frames are checked against {@code limits} (the default is permissive
     * with {@link FrameLimits#DEFAULT_MAX_FRAME_BYTES}); an end that reads from another site sets
     * the experiment's, and narrows them to the peer's client id once it knows it.
     */
    public FrameChannel limit(FrameLimits limits) {
        this.limits = limits;
        return this;
    }

    /**
     * From now on, sent tensors travel in {@code codecs}' codec for their kind, top-k ones with the error
     * feedback of {@code feedback} (this end's stream; null: none kept). The default is float32.
     */
    public FrameChannel encode(Codecs codecs, ErrorFeedback feedback) {
        this.codecs = codecs;
        this.feedback = feedback;
        return this;
    }

    /**
     * Sends {@code m} in the channel's codecs; a value a codec cannot send is refused before anything is
     * written ({@link NonFiniteValueException}).
     */
    public void send(Message message) {
        Message m = codecs.prepare(message, feedback);
        Emulation e;
        synchronized (this) {
            e = emulation;
        }
        if (e == null) {
            try {
                FrameCodec.write(m, out);
            } catch (IOException ex) {
                throw new TransportException("sending " + m.type() + " to " + socket.getRemoteSocketAddress() + " failed: "
                        + ex.getMessage() + peerSaid(), ex);
            }
        } else {
            try {
                e.send(m);
            } catch (TransportException ex) {
                throw new TransportException(ex.getMessage() + peerSaid(), ex.getCause());
            }
        }
        if (meter != null) {
            meter.record(Direction.UP, m);
            synchronized (this) {
                framesSentBytes += FrameCodec.frameBytes(m);
            }
        }
    }

    /** Blocks for the next message; fails if the peer closed the channel or reported an error. */
    public Message receive() {
        Message m;
        try {
            m = FrameCodec.read(in, limits);
        } catch (TransportException e) {
            throw new RefusedFrameException("receiving from " + socket.getRemoteSocketAddress() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new TransportException("receiving from " + socket.getRemoteSocketAddress() + " failed: " + e.getMessage(), e);
        }
        if (m == null) {
            throw new TransportException("peer " + socket.getRemoteSocketAddress() + " closed the channel");
        }
        if (meter != null) {
            meter.record(Direction.DOWN, m);
            synchronized (this) {
                framesReceivedBytes += FrameCodec.frameBytes(m);
            }
        }
        if (m.type() == Message.Type.ERROR) {
            throw new TransportException("peer reported: " + errorText(m));
        }
        return m;
    }

    /**
     * After a failed send: what the peer said before it closed the channel (its ERROR, which a peer that refuses a
     * frame sends before closing without reading the rest; the bytes already received stay readable after its reset),
     * or "" if nothing readable came within a second.
     */
    private String peerSaid() {
        try {
            socket.setSoTimeout(1000);
            Message m = FrameCodec.read(in, limits);
            return m != null && m.type() == Message.Type.ERROR ? "; peer reported: " + errorText(m) : "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    public Message expect(Message.Type type) {
        Message m = receive();
        if (m.type() != type) {
            throw new TransportException("expected " + type + " but received " + m.type());
        }
        return m;
    }

    /** An ERROR message carries its text as int code points, so it needs no other encoding. */
    public static Message error(String text) {
        // Cut to what a receiving end accepts (FrameLimits.MAX_ERROR_CHARS); at least one code point.
        int[] cps = (text.isEmpty() ? "?" : text).codePoints().limit(FrameLimits.MAX_ERROR_CHARS).toArray();
        return Message.of(Message.Type.ERROR, -1, 0, Tensor.ofInts(Kind.CONTROL, cps));
    }

    /** Tells every open peer why the exchange failed, skipping peers that are gone already. */
    public static void failAll(FrameChannel[] channels, String why) {
        for (FrameChannel ch : channels) {
            if (ch != null) {
                try {
                    ch.send(error(why));
                } catch (TransportException ignored) {
                    // the peer may be gone already
                }
            }
        }
    }

    public static void closeAll(FrameChannel[] channels) {
        for (FrameChannel ch : channels) {
            if (ch != null) {
                ch.close();
            }
        }
    }

    /** The text of an ERROR message; invalid code points (a hostile peer's) become U+FFFD. */
    static String errorText(Message m) {
        if (m.tensors().isEmpty() || m.tensor(0).ints() == null) {
            return "(an error without text)";
        }
        StringBuilder text = new StringBuilder();
        for (int cp : m.tensor(0).ints()) {
            text.appendCodePoint(Character.isValidCodePoint(cp) ? cp : 0xFFFD);
        }
        return text.toString();
    }

    /** Delivers what is still on the emulated link (bounded wait), then closes the socket. */
    @Override
    public void close() {
        Emulation e;
        synchronized (this) {
            e = emulation;
        }
        try {
            if (e != null) {
                e.finish();
            }
        } finally {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing is best effort; the peer sees end of stream
            }
            if (raw != null && meter != null) {
                synchronized (this) {
                    if (!transportBooked) {
                        transportBooked = true;
                        meter.recordTransport(Direction.UP, raw.bytesWritten() - framesSentBytes);
                        meter.recordTransport(Direction.DOWN, raw.bytesRead() - framesReceivedBytes);
                    }
                }
            }
        }
    }

    /** The outgoing pipe and the thread that writes each frame when it arrives. */
    private final class Emulation {
        private static final Object END = new Object();
        private final LinkPipe pipe;
        private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        private final Thread delivery;
        private volatile Exception failure;

        private record InFlight(byte[] frame, long arrivalNanos) {
        }

        Emulation(LinkPipe pipe) {
            this.pipe = pipe;
            this.delivery = new Thread(this::deliver, "fsl-link-" + socket.getRemoteSocketAddress());
            delivery.setDaemon(true);
            delivery.start();
        }

        void send(Message m) {
            if (failure != null) {
                throw new TransportException("sending " + m.type() + " to " + socket.getRemoteSocketAddress() + " failed: "
                        + failure.getMessage(), failure);
            }
            // The message enters the link when it is sent; encoding it overlaps its time on the link.
            long arrival = pipe.admit(FrameCodec.frameBytes(m));
            queue.add(new InFlight(FrameCodec.encode(m), arrival));
        }

        private void deliver() {
            try {
                while (true) {
                    Object next = queue.take();
                    if (next == END) {
                        return;
                    }
                    // All but the last byte go at once, so the receiver copies them while the frame is
                    // "on the link", as it would read a real stream; the last byte goes when it arrives.
                    InFlight f = (InFlight) next;
                    byte[] frame = f.frame();
                    out.write(frame, 0, frame.length - 1);
                    out.flush();
                    LinkPipe.sleepUntil(f.arrivalNanos());
                    out.write(frame[frame.length - 1]);
                    out.flush();
                }
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException ex) {
                failure = ex;
            }
        }

        /** Waits until the frames already sent have been delivered, then stops the thread. */
        void finish() {
            queue.add(END);
            long deadline = pipe.drainedAtNanos() == Long.MIN_VALUE ? System.nanoTime() + CLOSE_SLACK_NANOS
                    : Math.max(pipe.drainedAtNanos(), System.nanoTime()) + CLOSE_SLACK_NANOS;
            try {
                long left = deadline - System.nanoTime();
                delivery.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            delivery.interrupt();
        }
    }
}
