package org.fslspark.runtime;

import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.ServerLink;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.transport.FrameChannel;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.MeteredSocket;
import org.fslspark.transport.NonFiniteValueException;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.TrafficMeter;
import org.fslspark.transport.TransportException;
import org.nd4j.linalg.api.ndarray.INDArray;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.IOException;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A round of an algorithm that exchanges a gradient for every minibatch (SL, SplitFed-V1/V2): one
 * Spark barrier stage whose tasks 0..m-1 are the clients and task m the server. The barrier makes
 * Spark start them together; they find the server's address through {@code allGather} ({@link Barrier}) and then
 * talk over a direct, metered TCP channel, so a minibatch costs one network round trip, not a job.
 * With {@link RoundPlan#tls()} the channel is mutual TLS: each end presents its site's certificate.
 */
final class SyncRound {
    private SyncRound() {
    }

    static List<TaskReport> run(JavaSparkContext sc, RoundPlan plan, SiteExecutors executors) {
        Broadcast<RoundPlan> shared = sc.broadcast(plan);
        // Tasks 0..n-1 are the participants' clients, task n the server.
        int tasks = plan.participants().size() + 1;
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < tasks; i++) {
            ids.add(i);
        }
        List<String> sites = new ArrayList<>(plan.participantSites());
        sites.add(plan.serverSite());
        Object reports = executors.pin(sc.parallelize(ids, tasks), sites).rdd().barrier()
                .mapPartitions(new Task(shared), false, ClassTag$.MODULE$.apply(TaskReport.class))
                .collect();
        shared.destroy();
        return Arrays.asList((TaskReport[]) reports);
    }

    /** The body of every task of the stage; the partition index says which role it plays. */
    private static final class Task extends AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<TaskReport>>
            implements Serializable {
        private final Broadcast<RoundPlan> plan;

        Task(Broadcast<RoundPlan> plan) {
            this.plan = plan;
        }

        @Override
        public scala.collection.Iterator<TaskReport> apply(scala.collection.Iterator<Integer> ignored) {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            RoundPlan p = plan.value();
            int n = p.participants().size();
            boolean server = ctx.partitionId() == n;
            FaultHook.requireFirstTry(p, "the barrier task of " + (server
                    ? "server site " + p.serverSite() : RoundLimits.institute(p, p.participants().get(ctx.partitionId()))));
            TaskReport report;
            try {
                report = server ? serve(ctx, p) : client(ctx, p, p.participants().get(ctx.partitionId()));
            } catch (IOException e) {
                throw new IllegalStateException("round " + p.round() + " task " + ctx.partitionId() + ": " + e.getMessage(), e);
            }
            return JavaConverters.asScalaIterator(List.of(report).iterator());
        }
    }

    private static String host() {
        return SparkEnv.get().blockManager().blockManagerId().host();
    }

    private static TaskReport client(BarrierTaskContext ctx, RoundPlan p, int id) throws IOException {
        Algorithm algorithm = p.rules();
        String institute = p.institutes().get(id);
        SiteData data = ClientWork.data(p, id);
        Client client = ClientWork.client(p, algorithm, id);
        List<TrafficMeter.Count> retried = FaultHook.retried(p, id);
        TrafficMeter meter = FaultHook.meter(p, id);
        String[] addresses = Barrier.allGather(ctx, "");
        String[] server = addresses[p.participants().size()].split(":");
        long start = System.nanoTime();
        double compute;
        FrameLimits limits = RoundLimits.clientEnd(RoundLimits.shapes(p, id));
        // The site's keys are loaded (once per JVM) before connecting: the server gives a connection a few seconds only.
        org.fslspark.transport.Tls keys;
        try {
            keys = p.tls() == null ? null : p.tls().forSite(institute);
        } catch (TransportException e) {
            throw new TransportException(RoundLimits.institute(p, id) + ": its keys for TLS: " + e.getMessage(), e);
        }
        MeteredSocket raw = new MeteredSocket();
        raw.connect(new InetSocketAddress(server[0], Integer.parseInt(server[1])));
        Socket socket;
        try {
            socket = keys == null ? raw : keys.client(raw, p.serverSite());
        } catch (IOException | TransportException e) {
            raw.close();
            throw new TransportException(RoundLimits.institute(p, id) + ": TLS to the server site " + p.serverSite() + " failed: "
                    + e.getMessage(), e);
        }
        try (FrameChannel channel = new FrameChannel(socket, raw, meter, p.link(id))) {
            channel.limit(limits).encode(p.codecs(), ClientWork.feedback(p, id));
            channel.send(Message.of(Message.Type.HELLO, id, 0));
            INDArray global = channel.expect(Message.Type.MODEL).tensor(0).toArray();
            client.model().network().setParams(global);
            try {
                compute = ClientWork.train(p, algorithm, client, data, new ChannelLink(p, channel, id));
            } catch (Divergence d) {
                // Told to the server, whose failure then says so too: whichever task's failure Spark reports first, the
                // driver sees the divergence and does not rerun the round.
                tellServer(channel, d);
                throw d;
            }
            channel.send(Message.of(Message.Type.MODEL, id, 0, Tensor.of(Kind.MODEL, client.model().network().params())));
        } catch (TransportException e) {
            if (String.valueOf(e.getMessage()).contains(SyncServer.REFUSED)) {
                // Dropped from the round by the server: this task ends, the others go on; the driver discards its work.
                return new TaskReport("client", id, institute, Placement.executorSite(p.testbed()), host(), data.size(),
                        meter.counts(), (System.nanoTime() - start) / 1e9, 0, java.util.Map.of(), java.util.Map.of())
                        .withRetried(retried);
            }
            throw new TransportException(RoundLimits.institute(p, id) + ": " + e.getMessage(), e);
        }
        return new TaskReport("client", id, institute, Placement.executorSite(p.testbed()), host(), data.size(), meter.counts(),
                (System.nanoTime() - start) / 1e9, compute, java.util.Map.of(), ClientWork.save(p, client)).withRetried(retried)
                .withVersions(TaskState.used(p));
    }

    /** Sends the server why this client stops, if the channel still takes it. */
    private static void tellServer(FrameChannel channel, RuntimeException why) {
        try {
            channel.send(FrameChannel.error(String.valueOf(why.getMessage())));
        } catch (TransportException gone) {
            // the server may have closed the channel already
        }
    }

    private static TaskReport serve(BarrierTaskContext ctx, RoundPlan p) throws IOException {
        String serverSite = p.serverSite();
        Placement.requireSite(serverSite, p.testbed());
        try (java.net.ServerSocket listener = new java.net.ServerSocket()) {
            listener.bind(new InetSocketAddress(InetAddress.getByName(host()), 0));
            Barrier.allGather(ctx, host() + ":" + listener.getLocalPort());
            long start = System.nanoTime();
            SyncServer server = new SyncServer(p, p.rules(), p.tls() == null ? null : p.tls().forSite(serverSite));
            server.run(listener);
            return new TaskReport("server", -1, serverSite, Placement.executorSite(p.testbed()), host(), 0, List.of(),
                    (System.nanoTime() - start) / 1e9, server.computeSeconds(), server.models(),
                    p.collectState() ? ServerState.save(p) : java.util.Map.of()).withVersions(TaskState.used(p))
                    .withRefused(server.refused());
        }
    }

    /** The client's end of the channel as the algorithm sees it. */
    private record ChannelLink(RoundPlan plan, FrameChannel channel, int client) implements ServerLink {
        @Override
        public INDArray exchange(SmashedBatch batch) {
            upload(batch);
            Tensor g;
            try {
                g = channel.expect(Message.Type.GRADIENT).tensor(0);
            } catch (TransportException e) {
                NonFiniteValueException n = Divergence.nonFinite(e);
                if (n == null) {
                    throw e;
                }
                // The server's loss diverged on this minibatch.
                throw Divergence.of(plan.round(), RoundLimits.institute(plan, client) + " (the server's gradient)",
                        batch.iteration(), n);
            }
            // The limits allow any batch up to b; this gradient must be for this batch.
            if (!Arrays.equals(g.shape(), batch.activations().shape())) {
                throw new TransportException("refused gradient of shape " + Arrays.toString(g.shape()) + " for activations of shape "
                        + Arrays.toString(batch.activations().shape()));
            }
            return g.toArray();
        }

        @Override
        public void upload(SmashedBatch batch) {
            channel.send(Message.of(Message.Type.SMASHED, client, batch.iteration(),
                    Tensor.of(Kind.ACTIVATIONS, batch.activations()), Tensor.ofInts(Kind.LABELS, batch.labels())));
        }
    }
}
