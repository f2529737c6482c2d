package org.fslspark.runtime;

import org.apache.spark.Partitioner;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Server;
import org.fslspark.algorithm.ServerLink;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.RefusedFrameException;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.TrafficMeter;
import org.fslspark.transport.TransportException;
import org.nd4j.linalg.api.ndarray.INDArray;
import scala.Tuple2;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A round of an algorithm whose clients never wait for the server (CSE-FSL, FSL-SAGE), in Spark's
 * bulk model: a client stage (a task per institute) emits the smashed batches it uploads and, last,
 * its model; a shuffle moves them to the one server partition, sorted by (local iteration k,
 * client) so the server steps in the order parallel clients would deliver them, deterministically;
 * the server stage steps x_s on each upload in that order and passes the client models on.
 *
 * <p>Nothing returns to a client in this flow, so the server site checks every frame of the round before it takes a
 * step: a first job over the shuffled uploads (kept at the server site, {@link StorageLevel#MEMORY_AND_DISK}) checks
 * them as frames from another site, and a client with a refused frame drops out of the round ({@link
 * TaskReport#refused()}); the server stage then steps on the other clients' uploads only. A refused institute's round
 * is thus exactly as if it had sat the round out: none of its uploads stepped x_s or joined an alignment buffer, and
 * the driver averages without it and discards what its client stepped. A non-finite value is a divergence, as before.
 */
final class OneWayRound {
    private OneWayRound() {
    }

    /** What travels through the shuffle: an encoded frame and, with a client's last record, its report. */
    record Parcel(byte[] frame, TaskReport report) implements Serializable {
    }

    /** Everything goes to partition 0, the server's. */
    private static final class ToServer extends Partitioner {
        @Override
        public int numPartitions() {
            return 1;
        }

        @Override
        public int getPartition(Object key) {
            return 0;
        }
    }

    private static final int CLIENT_BITS = 20;

    static long uploadKey(long k, int client) {
        return (k << CLIENT_BITS) | client;
    }

    static long finalKey(int client) {
        return Long.MAX_VALUE - (1L << CLIENT_BITS) + client;
    }

    /** The client a record's key belongs to: the task that emitted it. */
    static int clientOf(long key) {
        return (int) (key >= finalKey(0) ? key - finalKey(0) : key & ((1L << CLIENT_BITS) - 1));
    }

    static List<TaskReport> run(JavaSparkContext sc, RoundPlan plan, SiteExecutors executors) {
        Broadcast<RoundPlan> shared = sc.broadcast(plan);
        List<Integer> ids = plan.participants();
        // The clients' stage runs at their sites; the server's partition reads the shuffle at the server site
        // (pinned, or Spark would prefer where most of the map output lies: a client's executor).
        JavaRDD<Tuple2<Long, Parcel>> uploads = executors.pin(sc.parallelize(ids, ids.size()), plan.participantSites())
                .flatMapToPair(id -> clientTask(shared.value(), id))
                .repartitionAndSortWithinPartitions(new ToServer())
                .map(kv -> kv);
        // Read twice at the server site (checked, then stepped on): kept there, not fetched from the clients again.
        JavaRDD<Tuple2<Long, Parcel>> atServer = executors.pin(uploads, List.of(plan.serverSite()))
                .persist(StorageLevel.MEMORY_AND_DISK());
        try {
            Map<Integer, String> refused = new TreeMap<>();
            atServer.mapPartitions(records -> check(shared.value(), records)).collect().forEach(refused::putAll);
            Map<Integer, String> dropped = Map.copyOf(refused);
            return atServer.mapPartitions(records -> serverTask(shared.value(), dropped, records)).collect();
        } finally {
            atServer.unpersist(false);
            shared.destroy();
        }
    }

    /**
     * The server site's check of every frame of the round, before any step: the clients with a refused frame, each with
     * the first refusal (the institute and the check). A non-finite value stops the run ({@link Divergence}).
     */
    private static Iterator<Map<Integer, String>> check(RoundPlan p, Iterator<Tuple2<Long, Parcel>> records) {
        Placement.requireSite(p.serverSite(), p.testbed());
        Map<Integer, FrameLimits> limits = new HashMap<>();
        Map<Integer, String> refused = new TreeMap<>();
        while (records.hasNext()) {
            Tuple2<Long, Parcel> record = records.next();
            int client = clientOf(record._1());
            if (!refused.containsKey(client)) {
                try {
                    fromClient(p, limits.computeIfAbsent(client, c -> RoundLimits.serverEnd(p, c)), client, record._2().frame());
                } catch (RefusedFrameException e) {
                    refused.put(client, e.getMessage());
                }
            }
        }
        return List.<Map<Integer, String>>of(refused).iterator();
    }

    private static Iterator<Tuple2<Long, Parcel>> clientTask(RoundPlan p, int id) {
        FaultHook.requireFirstTry(p, "the task of " + RoundLimits.institute(p, id));
        Algorithm algorithm = p.rules();
        SiteData data = ClientWork.data(p, id);
        Client client = ClientWork.client(p, algorithm, id);
        List<TrafficMeter.Count> retried = FaultHook.retried(p, id);
        TrafficMeter meter = FaultHook.meter(p, id);
        ChargedLink link = ClientWork.link(p, id, meter);
        long start = System.nanoTime();
        Message global = p.codecs().received(
                Message.of(Message.Type.MODEL, -1, p.round(), Tensor.of(Kind.MODEL, p.clientModel(id))));
        link.download(global);
        client.model().network().setParams(global.tensor(0).toArray());
        ClientWork.receiveAuxiliary(p, client, link);
        link.awaitDownloads();
        List<Tuple2<Long, Parcel>> out = new ArrayList<>();
        double compute = ClientWork.train(p, algorithm, client, data, new ServerLink() {
            @Override
            public INDArray exchange(SmashedBatch batch) {
                throw new IllegalStateException(algorithm.name() + " waits for no gradient");
            }

            @Override
            public void upload(SmashedBatch batch) {
                Message m = Message.of(Message.Type.SMASHED, id, batch.iteration(),
                        Tensor.of(Kind.ACTIVATIONS, batch.activations()), Tensor.ofInts(Kind.LABELS, batch.labels()));
                out.add(new Tuple2<>(uploadKey(batch.iteration(), id), new Parcel(link.upload(m), null)));
            }
        });
        List<Tensor> model = new ArrayList<>(List.of(Tensor.of(Kind.MODEL, client.model().network().params())));
        if (algorithm.averaged().contains(Algorithm.Part.AUXILIARY)) {
            model.add(Tensor.of(Kind.AUXILIARY_MODEL, client.auxiliary().network().params()));
        }
        byte[] upload = link.upload(new Message(Message.Type.MODEL, id, p.round(), model));
        link.awaitUploads();
        TaskReport report = new TaskReport("client", id, p.institutes().get(id), Placement.executorSite(p.testbed()), host(),
                data.size(), meter.counts(), (System.nanoTime() - start) / 1e9, compute, Map.of(), ClientWork.save(p, client))
                .withRetried(retried).withVersions(TaskState.used(p));
        out.add(new Tuple2<>(finalKey(id), new Parcel(upload, report)));
        return out.iterator();
    }

    private static Iterator<TaskReport> serverTask(RoundPlan p, Map<Integer, String> refused,
                                                   Iterator<Tuple2<Long, Parcel>> records) {
        FaultHook.requireFirstTry(p, "the server task of server site " + p.serverSite());
        Placement.requireSite(p.serverSite(), p.testbed());
        Algorithm algorithm = p.rules();
        Server server = ServerState.forRound(p);
        long steps = 0;
        long start = System.nanoTime();
        List<TaskReport> out = new ArrayList<>();
        Map<String, byte[]> models = new HashMap<>();
        long computeNanos = 0;
        Map<Integer, FrameLimits> limits = new HashMap<>();
        while (records.hasNext()) {
            Tuple2<Long, Parcel> record = records.next();
            Parcel parcel = record._2();
            int client = clientOf(record._1());
            if (refused.containsKey(client)) {
                if (parcel.report() != null) {
                    out.add(parcel.report()); // what its link carried; the driver discards its state
                }
                continue;
            }
            Message m = fromClient(p, limits.computeIfAbsent(client, c -> RoundLimits.serverEnd(p, c)), client, parcel.frame());
            if (m.type() == Message.Type.SMASHED) {
                FaultHook.beforeServerStep(p, steps++);
                long step = System.nanoTime();
                algorithm.serverStep(server, new SmashedBatch(m.client(), m.sequence(), m.tensor(0).toArray(), m.tensor(1).ints()));
                computeNanos += System.nanoTime() - step;
                // Nothing returns to the client in this flow: a diverged server step is caught here, at its minibatch.
                if (!Double.isFinite(server.shared().network().params().sumNumber().doubleValue())) {
                    throw new Divergence(Divergence.MARKER + p.round() + ", server site " + p.serverSite() + ", minibatch "
                            + m.sequence() + " of " + RoundLimits.institute(p, m.client())
                            + ": the server's parameters are not finite after its step", null);
                }
            } else {
                models.put("client/" + m.client(), SyncServer.encode(m.tensor(0)));
                if (m.tensors().size() > 1) {
                    models.put("auxiliary/" + m.client(), SyncServer.encode(m.tensor(1)));
                }
                out.add(parcel.report());
            }
        }
        models.put("server", SyncServer.encode(Tensor.of(Kind.MODEL, server.shared().network().params())));
        out.add(new TaskReport("server", -1, p.serverSite(), Placement.executorSite(p.testbed()), host(), 0, List.of(),
                (System.nanoTime() - start) / 1e9, computeNanos / 1e9, models,
                p.collectState() ? ServerState.save(p) : Map.of()).withVersions(TaskState.used(p)).withRefused(refused));
        return out.iterator();
    }

    /**
     * A client's upload, checked as a frame from another site (its limits: {@code client}'s); a refusal
     * ({@link RefusedFrameException}) names the institute, a non-finite value is a {@link Divergence}.
     */
    private static Message fromClient(RoundPlan p, FrameLimits limits, int client, byte[] frame) {
        try {
            Message m;
            try {
                m = FrameCodec.decode(frame, limits);
            } catch (TransportException e) {
                throw Divergence.orItself(e, p.round(), RoundLimits.institute(p, client));
            }
            boolean upload = m.type() == Message.Type.SMASHED
                    || m.type() == Message.Type.MODEL && m.tensor(0).kind() == Kind.MODEL
                    && (m.tensors().size() == 1 || m.tensor(1).kind() == Kind.AUXILIARY_MODEL);
            if (!upload) {
                throw new TransportException("refused frame from client " + client + ": a " + m.type() + " message with "
                        + m.tensors() + " is no upload");
            }
            return m;
        } catch (TransportException e) {
            throw new RefusedFrameException(RoundLimits.institute(p, client) + ": " + e.getMessage(), e);
        }
    }

    private static String host() {
        return SparkEnv.get().blockManager().blockManagerId().host();
    }
}
