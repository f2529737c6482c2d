package org.fslspark.transport;

import java.io.Serializable;

/**
 * A client site's link to the server site, the same in both directions: round-trip time and
 * throughput. A message of {@code b} bytes sent on an idle link arrives {@link #oneWaySeconds(long)}
 * later: half the round trip plus {@code 8 b / throughput}.
 *
 * @param rttSeconds              round-trip time, seconds (> 0)
 * @param throughputBitsPerSecond throughput, bits per second (> 0)
 */
public record SiteLink(double rttSeconds, double throughputBitsPerSecond) implements Serializable {
    public SiteLink {
        if (!(rttSeconds > 0) || !(throughputBitsPerSecond > 0) || Double.isInfinite(rttSeconds)
                || Double.isInfinite(throughputBitsPerSecond)) {
            throw new IllegalArgumentException("a link needs a positive round-trip time and throughput, got "
                    + rttSeconds + " s and " + throughputBitsPerSecond + " bit/s");
        }
    }

    /** How long {@code bytes} occupy the link: 8 bytes / throughput. */
    public double transmissionSeconds(long bytes) {
        return bytes * 8.0 / throughputBitsPerSecond;
    }

    /** Delay of a message on an idle link: RTT / 2 + 8 bytes / throughput. */
    public double oneWaySeconds(long bytes) {
        return rttSeconds / 2 + transmissionSeconds(bytes);
    }

    @Override
    public String toString() {
        return String.format("rtt %.1f ms, %.0f Mbit/s", rttSeconds * 1e3, throughputBitsPerSecond / 1e6);
    }
}
