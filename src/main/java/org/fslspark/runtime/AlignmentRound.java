package org.fslspark.runtime;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.fslspark.algorithm.AlignmentReport;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.Server;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * FSL-SAGE's alignment at the server site: a task per client, in parallel, each fitting that
 * client's auxiliary model on its buffer against a private copy of the current x_s. Only the
 * aligned model leaves, as the frame the client will receive.
 */
final class AlignmentRound {
    private AlignmentRound() {
    }

    /**
     * A client's alignment and its aligned model (null when its buffer was empty), where it ran, and
     * when: its start on the executor's wall clock (epoch seconds) and its duration.
     */
    record Result(int client, AlignmentReport report, byte[] auxiliaryFrame, double started, double seconds,
                  String executorSite, String host, Map<String, HeldCopy> state, Map<String, String> versions)
            implements Serializable {
    }

    /**
     * Seconds from the first task's start to the last one's end. The server site runs as many aligners
     * at once as its executors have slots, so the round waits for the stage, not its longest task.
     * All run at the server site, whose clocks agree.
     */
    static double stageSeconds(List<Result> results) {
        double first = results.stream().mapToDouble(Result::started).min().orElse(0);
        double last = results.stream().mapToDouble(r -> r.started() + r.seconds()).max().orElse(0);
        return last - first;
    }

    static List<Result> run(JavaSparkContext sc, RoundPlan plan, SiteExecutors executors) {
        Broadcast<RoundPlan> shared = sc.broadcast(plan);
        // Only the round's participants are aligned: a lost institute's buffer waits for its return.
        List<Integer> ids = plan.participants();
        List<Result> results = executors.pin(sc.parallelize(ids, ids.size()), java.util.Collections.nCopies(ids.size(), plan.serverSite())).map(id -> align(shared.value(), id)).collect();
        shared.destroy();
        return results;
    }

    private static Result align(RoundPlan p, int client) {
        FaultHook.requireFirstTry(p, "the alignment of client " + client + " at server site " + p.serverSite());
        Placement.requireSite(p.serverSite(), p.testbed());
        double started = System.currentTimeMillis() / 1e3;
        long start = System.nanoTime();
        // Tasks of this stage run in parallel: each refreshes targets with its own copy of x_s.
        Learner top = TaskState.scratch(p, "align-top/" + client, () -> ServerState.serverLearner(p));
        top.network().setParams(ServerState.row(p.globalServer()));
        Server server = ServerState.withShared(p, top, true);
        AlignmentReport report = p.rules().align(server, client);
        byte[] frame = report == null ? null : FrameCodec.encode(p.codecs().prepare(Message.of(Message.Type.MODEL, client, p.round(),
                Tensor.of(Kind.AUXILIARY_MODEL, server.auxiliary(client).network().params())), null));
        // The aligned learner is this task's to return: the server stage may run on another executor of the site.
        Map<String, HeldCopy> state = p.collectState() ? HeldCopy.keep(p, TaskState.saveUsed(p, "server/auxiliary/" + client)) : Map.of();
        return new Result(client, report, frame, started, (System.nanoTime() - start) / 1e9, Placement.executorSite(p.testbed()),
                org.apache.spark.SparkEnv.get().blockManager().blockManagerId().host(), state, TaskState.used(p));
    }
}
