package org.fslspark.transport;

import java.util.concurrent.locks.LockSupport;

/**
 * One direction of an emulated {@link SiteLink}: messages cross it one after another, like bytes
 * through a real pipe. A message admitted at time t starts when the pipe is free (at t or when the
 * previous message has left), occupies it for 8 bytes / throughput, and arrives half a round trip
 * after its last byte left. The sender is not held up: it learns the arrival time and whoever
 * delivers the message waits for it. Times are {@link System#nanoTime()} of this JVM.
 */
public final class LinkPipe {
    private final SiteLink link;
    private long freeAtNanos = Long.MIN_VALUE;
    private long lastArrivalNanos = Long.MIN_VALUE;

    public LinkPipe(SiteLink link) {
        this.link = link;
    }

    public SiteLink link() {
        return link;
    }

    /** Admits a message of {@code bytes} now; returns the nanoTime at which it has fully arrived. */
    public synchronized long admit(long bytes) {
        long now = System.nanoTime();
        long start = freeAtNanos == Long.MIN_VALUE ? now : Math.max(now, freeAtNanos);
        freeAtNanos = start + nanos(link.transmissionSeconds(bytes));
        lastArrivalNanos = freeAtNanos + nanos(link.rttSeconds() / 2);
        return lastArrivalNanos;
    }

    /** When everything admitted so far has arrived (now or earlier if nothing is in flight). */
    public synchronized long drainedAtNanos() {
        return lastArrivalNanos;
    }

    /** Blocks until everything admitted so far has arrived. */
    public void awaitDrained() {
        long at = drainedAtNanos();
        if (at != Long.MIN_VALUE) {
            sleepUntil(at);
        }
    }

    static long nanos(double seconds) {
        return Math.round(seconds * 1e9);
    }

    /** Sleeps until {@link System#nanoTime()} reaches {@code deadline}; keeps the interrupt status. */
    public static void sleepUntil(long deadline) {
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            LockSupport.parkNanos(left);
            if (Thread.currentThread().isInterrupted()) {
                throw new TransportException("interrupted while a message was on an emulated link");
            }
        }
    }
}
