package org.fslspark.runtime;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobStart;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * Fails a round attempt at once when an executor its stages are pinned to is lost. A round's tasks prefer the very
 * executors found when the attempt started ({@link SiteExecutors#pin}) and wait for them up to the test-bed's locality
 * wait (an hour): a task still to run on a lost executor (a stage submitted after the loss, or a map task Spark
 * resubmits because its output died with the executor) would wait that hour for an executor that never comes back,
 * and would be refused anyway once it ran as a retry ({@link FaultHook#requireFirstTry}). So on the loss of a pinned
 * executor the attempt's jobs are cancelled, and any it starts afterwards, and the driver reruns the round from its
 * copy, on the site's new executor. A barrier stage fails by itself; this names the loss for it too.
 */
final class ExecutorLossWatch extends SparkListener {
    private final SparkContext sc;
    /** The attempt's job group and pinned executor ids; null when no attempt runs. */
    private volatile String group;
    /** The attempt's pinned executors by id, with who they serve ("institute umich", "server site osu"). */
    private volatile Map<String, String> pinned = Map.of();
    private volatile String lost;

    private ExecutorLossWatch(SparkContext sc) {
        this.sc = sc;
    }

    /** A watch on {@code sc}'s executors, registered as a listener; {@link #close} removes it. */
    static ExecutorLossWatch on(SparkContext sc) {
        ExecutorLossWatch w = new ExecutorLossWatch(sc);
        sc.addSparkListener(w);
        return w;
    }

    /**
     * Watches the attempt whose jobs run in {@code jobGroup} with their tasks pinned to the executors of the
     * {@code institutes} and the {@code serverSite} (nothing when none are pinned: local mode).
     */
    void arm(String jobGroup, SiteExecutors executors, Collection<String> institutes, String serverSite) {
        lost = null;
        Map<String, String> ids = new HashMap<>();
        for (SiteExecutors.Executor x : executors.executors()) {
            if (institutes.contains(x.site())) {
                ids.put(x.id(), "institute " + x.site());
            } else if (serverSite.equals(x.site())) {
                ids.put(x.id(), "server site " + x.site());
            }
        }
        pinned = Map.copyOf(ids);
        group = pinned.isEmpty() ? null : jobGroup;
    }

    /** Stops watching; returns what was lost during the attempt (null: nothing). */
    String disarm() {
        group = null;
        String why = lost;
        lost = null;
        return why;
    }

    /** What was lost during the armed attempt, or null. */
    String lost() {
        return lost;
    }

    @Override
    public void onExecutorRemoved(SparkListenerExecutorRemoved removed) {
        String g = group;
        String who = pinned.get(removed.executorId());
        if (g != null && who != null) {
            lost = "the executor of " + who + " (executor " + removed.executorId() + ") was lost (" + removed.reason()
                    + "); the round's tasks were pinned to it";
            sc.cancelJobGroup(g);
        }
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
        String g = group;
        if (g != null && lost != null && start.properties() != null
                && g.equals(start.properties().getProperty("spark.jobGroup.id"))) {
            sc.cancelJob(start.jobId());
        }
    }

    void close() {
        sc.removeSparkListener(this);
    }
}
