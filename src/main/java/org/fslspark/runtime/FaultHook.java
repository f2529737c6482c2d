package org.fslspark.runtime;

import org.apache.spark.TaskContext;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.config.Experiment;
import org.fslspark.transport.Direction;
import org.fslspark.transport.Kind;
import org.fslspark.transport.TrafficMeter;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a task meets the fault rules of a round: Spark's own retries are refused (the driver reruns
 * the round instead), and the test-only hooks debug.fail, debug.stall and debug.nan fire at their point.
 */
final class FaultHook {
    /** How long debug.stall waits at most. */
    private static final long STALL_LIMIT_NANOS = 10 * 60_000_000_000L;

    private FaultHook() {
    }

    /** A failure the debug.fail hook injected. */
    static final class InjectedFault extends RuntimeException {
        InjectedFault(String message) {
            super(message);
        }
    }

    /**
     * Fails a task that Spark itself retries (a task attempt or stage attempt above 0): executors keep
     * state between rounds, and the failed try may already have stepped it, so only the driver's rerun
     * from its own copy of the round's start is exact. Spark then gives up on the stage and the driver
     * reruns the round.
     */
    static void requireFirstTry(RoundPlan p, String task) {
        TaskContext ctx = TaskContext.get();
        if (ctx != null && (ctx.attemptNumber() > 0 || ctx.stageAttemptNumber() > 0)) {
            throw new IllegalStateException("round " + p.round() + ": Spark retried " + task + " (task attempt "
                    + ctx.attemptNumber() + ", stage attempt " + ctx.stageAttemptNumber() + ") on executor state the failed"
                    + " try may have changed; the driver reruns the round from the state it started with");
        }
    }

    /** The runs and rounds whose state this JVM has forgotten (debug.forget), once each. */
    private static final java.util.Set<String> FORGOTTEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** debug.forget: on the round's first attempt, the first task of this JVM to touch training state drops the run's. */
    static void forget(RoundPlan p) {
        if (p.faults().forget() == p.round() && p.attempt() == 0 && FORGOTTEN.add(p.runId() + "/" + p.round())) {
            TaskState.clear(p.runId());
        }
    }

    /** debug.fail and debug.stall at client {@code client}'s local iteration {@code k}, on the round's first attempt. */
    static void beforeClientStep(RoundPlan p, int client, long k) {
        Experiment.FaultPoint s = p.faults().stall();
        if (s != null && !s.server() && s.client() == client && s.round() == p.round() && s.batch() == k && p.attempt() == 0) {
            stall(p, RoundLimits.institute(p, client) + ", minibatch " + k);
        }
        Experiment.FaultPoint f = p.faults().fail();
        if (f != null && !f.server() && f.client() == client && f.round() == p.round() && f.batch() == k && p.attempt() == 0) {
            throw new InjectedFault("debug.fail: injected failure in round " + p.round() + ", "
                    + RoundLimits.institute(p, client) + ", minibatch " + k);
        }
    }

    /** debug.fail and debug.stall before the server's {@code n}-th step of the round (from 0), on its first attempt. */
    static void beforeServerStep(RoundPlan p, long n) {
        Experiment.FaultPoint s = p.faults().stall();
        if (s != null && s.server() && s.round() == p.round() && s.batch() == n && p.attempt() == 0) {
            stall(p, "server site " + p.serverSite() + ", server step " + n);
        }
        Experiment.FaultPoint f = p.faults().fail();
        if (f != null && f.server() && f.round() == p.round() && f.batch() == n && p.attempt() == 0) {
            throw new InjectedFault("debug.fail: injected failure in round " + p.round() + ", server site " + p.serverSite()
                    + ", server step " + n);
        }
    }

    /**
     * debug.stall: a task that neither runs nor fails, until Spark kills it (then it ends as killed tasks do, and its
     * channels close); bounded, so that a test without a round deadline fails rather than hangs.
     */
    private static void stall(RoundPlan p, String where) {
        TaskContext ctx = TaskContext.get();
        long end = System.nanoTime() + STALL_LIMIT_NANOS;
        while (System.nanoTime() < end) {
            ctx.killTaskIfInterrupted();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        ctx.killTaskIfInterrupted();
        throw new InjectedFault("debug.stall: round " + p.round() + ", " + where + " was not cancelled within "
                + STALL_LIMIT_NANOS / 60_000_000_000L + " min");
    }

    /**
     * A new traffic meter for client {@code client}'s task, kept in the executor's memory until the client's next
     * task, so that a rerun can report what a failed attempt sent before it died.
     */
    static TrafficMeter meter(RoundPlan p, int client) {
        return TaskState.get(p.runId() + "/" + meterName(client, p.round(), p.attempt()), TrafficMeter::new);
    }

    /**
     * What client {@code client}'s link carried in this round's earlier attempts, from the meters this executor
     * kept (an attempt on a lost executor is not known); forgets those and the meters of earlier rounds.
     */
    static List<TrafficMeter.Count> retried(RoundPlan p, int client) {
        String prefix = "meter/" + client + "/";
        Map<String, Object> old = TaskState.take(p.runId(), n -> n.startsWith(prefix) && !n.equals(meterName(client, p.round(), p.attempt())));
        Map<String, long[]> sums = new TreeMap<>();
        old.forEach((name, meter) -> {
            String[] parts = name.split("/");
            if (Integer.parseInt(parts[2]) == p.round()) {
                for (TrafficMeter.Count c : ((TrafficMeter) meter).counts()) {
                    long[] sum = sums.computeIfAbsent(c.direction().name(), d -> new long[3]);
                    sum[0] += c.payloadBytes();
                    sum[1] += c.wireBytes();
                    sum[2] += c.messages();
                }
            }
        });
        List<TrafficMeter.Count> out = new ArrayList<>();
        sums.forEach((d, c) -> out.add(new TrafficMeter.Count(Direction.valueOf(d), Kind.CONTROL, c[0], c[1], c[2])));
        return out;
    }

    private static String meterName(int client, int round, int attempt) {
        return "meter/" + client + "/" + round + "/" + attempt;
    }

    /**
     * The batch a client sends: debug.nan puts a NaN into the activations at its point, debug.refuse gives them one
     * channel too many (a shape the server refuses).
     */
    static SmashedBatch sent(RoundPlan p, SmashedBatch b) {
        INDArray z;
        if (at(p.faults().nan(), p, b)) {
            z = b.activations().dup();
            z.putScalar(0, Float.NaN);
        } else if (at(p.faults().refuse(), p, b)) {
            long[] shape = b.activations().shape().clone();
            shape[1]++;
            z = org.nd4j.linalg.factory.Nd4j.zeros(b.activations().dataType(), shape);
        } else {
            return b;
        }
        return new SmashedBatch(b.client(), b.iteration(), z, b.labels());
    }

    private static boolean at(Experiment.FaultPoint f, RoundPlan p, SmashedBatch b) {
        return f != null && f.client() == b.client() && f.round() == p.round() && f.batch() == b.iteration();
    }
}
