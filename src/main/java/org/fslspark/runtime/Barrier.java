package org.fslspark.runtime;

import org.apache.spark.BarrierTaskContext;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@link BarrierTaskContext#allGather} without its one-second polling. Spark 3.5 waits for the barrier's
 * answer in a loop of {@code Thread.sleep(1000)}, waking early only when the task's thread is interrupted (as a
 * kill does), so every gather took a second or more after the last task arrived, and a per-batch round, which
 * gathers the server's address, took a second longer than its work. While a task waits here, a timer interrupts
 * its thread every few milliseconds when it is sleeping in that loop; the loop then checks the answer again, and a
 * task Spark did not kill goes on waiting. Nothing else runs on the thread meanwhile (the loop's own code does no
 * interruptible I/O), and an interrupt left over when the gather returns is cleared unless Spark killed the task.
 */
final class Barrier {
    private static final long POLL_MILLIS = 5;
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fsl-barrier-poll");
        t.setDaemon(true);
        return t;
    });

    private Barrier() {
    }

    static String[] allGather(BarrierTaskContext ctx, String message) {
        Thread task = Thread.currentThread();
        Object lock = new Object();
        boolean[] waiting = {true};
        ScheduledFuture<?> poll = TIMER.scheduleWithFixedDelay(() -> {
            synchronized (lock) {
                if (waiting[0] && task.getState() == Thread.State.TIMED_WAITING) {
                    task.interrupt();
                }
            }
        }, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
        try {
            return ctx.allGather(message);
        } finally {
            synchronized (lock) {
                waiting[0] = false;
            }
            poll.cancel(false);
            if (!ctx.isInterrupted()) {
                Thread.interrupted();
            }
        }
    }
}
