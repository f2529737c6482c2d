package org.fslspark.runtime;

import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.ServerLink;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.model.CutLayout;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.TrafficMeter;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;

/**
 * A round in which clients train alone (FedAvg): one ordinary Spark stage, a task per client. The
 * global model goes down as one encoded frame in a broadcast and each client's model comes back
 * as the task's result; both are metered with the frame's real size.
 */
final class LocalRound {
    private LocalRound() {
    }

    static List<TaskReport> run(JavaSparkContext sc, RoundPlan plan, SiteExecutors executors) {
        // One frame per cut (one in all unless sites cut at different layers): the client's part and the rest.
        Map<Integer, byte[]> frames = new java.util.HashMap<>();
        CutLayout layout = plan.layout();
        for (int id : plan.participants()) {
            frames.computeIfAbsent(layout.cut(id), cut -> {
                Message global = Message.of(Message.Type.MODEL, -1, plan.round(), Tensor.of(Kind.MODEL, plan.clientModel(id)),
                        Tensor.of(Kind.MODEL, layout.serverPart(row(plan.globalServer()), id)));
                return FrameCodec.encode(plan.codecs().prepare(global, null));
            });
        }
        Broadcast<Map<Integer, byte[]>> download = sc.broadcast(Map.copyOf(frames));
        Broadcast<RoundPlan> shared = sc.broadcast(plan);
        List<Integer> ids = plan.participants();
        List<TaskReport> reports = executors.pin(sc.parallelize(ids, ids.size()), plan.participantSites())
                .map(id -> clientTask(shared.value(), id, download.value().get(shared.value().layout().cut(id))))
                .collect();
        shared.destroy();
        download.destroy();
        return reports;
    }

    private static INDArray row(float[] values) {
        return Nd4j.create(values, new long[]{1, values.length}, 'c');
    }

    private static TaskReport clientTask(RoundPlan p, int id, byte[] download) {
        FaultHook.requireFirstTry(p, "the task of " + RoundLimits.institute(p, id));
        Algorithm algorithm = p.rules();
        SiteData data = ClientWork.data(p, id);
        Client client = ClientWork.client(p, algorithm, id);
        List<TrafficMeter.Count> retried = FaultHook.retried(p, id);
        TrafficMeter meter = FaultHook.meter(p, id);
        ChargedLink link = ClientWork.link(p, id, meter);
        long start = System.nanoTime();
        Message global = FrameCodec.decode(download, RoundLimits.models(RoundLimits.shapes(p, id)));
        link.download(global);
        link.awaitDownloads();
        client.model().network().setParams(global.tensor(0).toArray());
        client.top().network().setParams(global.tensor(1).toArray());
        double compute = ClientWork.train(p, algorithm, client, data, NO_SERVER);
        byte[] upload = link.upload(Message.of(Message.Type.MODEL, id, p.round(),
                Tensor.of(Kind.MODEL, client.model().network().params()), Tensor.of(Kind.MODEL, client.top().network().params())));
        link.awaitUploads();
        return new TaskReport("client", id, p.institutes().get(id), Placement.executorSite(p.testbed()),
                SparkEnv.get().blockManager().blockManagerId().host(), data.size(), meter.counts(),
                (System.nanoTime() - start) / 1e9, compute, Map.of("client/" + id, upload),
                ClientWork.save(p, client)).withRetried(retried).withVersions(TaskState.used(p));
    }

    private static final ServerLink NO_SERVER = new ServerLink() {
        @Override
        public INDArray exchange(SmashedBatch batch) {
            throw new IllegalStateException("no server is reachable during a local round");
        }

        @Override
        public void upload(SmashedBatch batch) {
            throw new IllegalStateException("no server is reachable during a local round");
        }
    };
}
