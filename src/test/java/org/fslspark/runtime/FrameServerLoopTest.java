package org.fslspark.runtime;

import org.fslspark.algorithm.ServerOrder;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameChannel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.TransportException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.File;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server end of the per-batch channel ({@link SyncServer} over {@link FrameChannel} on the
 * loopback) against a hostile client: institute umich sends one bad frame after institute osu's
 * honest work has been served. The server refuses it with an error naming umich and the check, and
 * umich drops out of the round (it is told so) while the round ends normally with osu's model; a
 * non-finite value instead stops the round as a divergence, and osu is told why. Also: the link
 * probe's frames fit the probe's limits.
 */
class FrameServerLoopTest {
    private static final int BATCH = 4;
    private static final int TIMEOUT_MS = 60_000;

    @TempDir
    static Path dir;
    private static Experiment experiment;
    private static SplitModel model;
    private static ExecutorService pool;

    @BeforeAll
    static void load() {
        experiment = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of("institutes=[osu, umich]",
                "data.location=\"" + dir.resolve("data") + "\"", "output=\"" + dir.resolve("out") + "\""));
        model = ModelZoo.split(experiment.model(), experiment.seed());
        pool = Executors.newCachedThreadPool();
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    private static RoundPlan plan(ServerOrder order) {
        return new RoundPlan("hostile-" + UUID.randomUUID(), 0, "splitfed-v2", experiment.settings(), experiment.model(),
                experiment.init(), experiment.train().optimizer(), experiment.train().serverOptimizer(), BATCH, 1,
                experiment.seed(), experiment.institutes(), List.of("", ""), "osu", order, Map.of(),
                model.client().params().data().asFloat(), model.server().params().data().asFloat(), Map.of(), TestbedPlan.NONE, Map.of(), false, "");
    }

    private static INDArray activations(int b, long... perSample) {
        long[] shape = new long[perSample.length + 1];
        shape[0] = b;
        System.arraycopy(perSample, 0, shape, 1, perSample.length);
        return Nd4j.rand(DataType.FLOAT, shape);
    }

    private static Message smashed(int client, INDArray activations, int[] labels) {
        return Message.of(Message.Type.SMASHED, client, 0, Tensor.of(Kind.ACTIVATIONS, activations), Tensor.ofInts(Kind.LABELS, labels));
    }

    /** The bytes umich sends instead of a valid smashed batch. */
    private static byte[] hostile(String frame, long[] cut) {
        int[] labels = {1, 2, 3, 4};
        return switch (frame) {
            case "wrong-shape" -> FrameCodec.encode(smashed(1, activations(BATCH, cut[0] + 1, cut[1], cut[2]), labels));
            case "batch-too-large" -> FrameCodec.encode(smashed(1, activations(BATCH + 1, cut), new int[BATCH + 1]));
            case "nan" -> {
                INDArray a = activations(BATCH, cut);
                a.putScalar(new long[]{0, 0, 1, 0}, Float.NaN); // flat index 7
                yield FrameCodec.encode(smashed(1, a, labels));
            }
            case "spoofed-client" -> FrameCodec.encode(smashed(0, activations(BATCH, cut), labels));
            case "label-out-of-range" -> FrameCodec.encode(smashed(1, activations(BATCH, cut), new int[]{1, 2, 3, 99}));
            case "huge-claim" -> { // a header and one tensor header claiming 2^31-1 x 2^31-1 floats
                ByteBuffer b = ByteBuffer.allocate(FrameCodec.HEADER_BYTES + 3 + 8);
                b.putInt(FrameCodec.MAGIC).put((byte) Message.Type.SMASHED.ordinal()).putInt(1).putLong(0).put((byte) 2);
                b.put((byte) Kind.ACTIVATIONS.ordinal()).put((byte) 0).put((byte) 2).putInt(Integer.MAX_VALUE).putInt(Integer.MAX_VALUE);
                yield b.array();
            }
            case "unknown-kind" -> {
                byte[] f = FrameCodec.encode(smashed(1, activations(BATCH, cut), labels));
                f[FrameCodec.HEADER_BYTES] = 77;
                yield f;
            }
            default -> throw new IllegalArgumentException(frame);
        };
    }

    private static Socket connect(int port) throws Exception {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), TIMEOUT_MS);
        s.setSoTimeout(TIMEOUT_MS); // nothing in this test may wait forever
        return s;
    }

    @ParameterizedTest
    @CsvSource({
            "wrong-shape, CLIENT_BY_CLIENT, 'ACTIVATIONS shape [4, 65, 7, 7] is not the expected [1..4, 64, 7, 7]'",
            "batch-too-large, ARRIVAL, 'ACTIVATIONS shape [5, 64, 7, 7] is not the expected [1..4, 64, 7, 7]'",
            "nan, CLIENT_BY_CLIENT, 'ACTIVATIONS value NaN at index 7 is not finite'",
            "spoofed-client, ARRIVAL, 'it claims client 0 on the channel of client 1'",
            "label-out-of-range, CLIENT_BY_CLIENT, 'label 99 at index 3 outside [0, 10)'",
            "huge-claim, ARRIVAL, 'over the cap'",
            "unknown-kind, CLIENT_BY_CLIENT, 'unknown tensor kind byte 77'"})
    void aHostileFrameIsRefusedNamingTheInstituteAndTheCheck(String frame, ServerOrder order, String check) throws Exception {
        RoundPlan plan = plan(order);
        RoundLimits.Shapes shapes = RoundLimits.shapes(plan);
        assertArrayEquals(new long[]{64, 7, 7}, shapes.cut()); // the quickstart's fmnist_cnn, as the checks below say
        CountDownLatch osuDone = new CountDownLatch(1);
        try (ServerSocket listener = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            SyncServer server = new SyncServer(plan, plan.rules());
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            Future<String> osu = pool.submit(() -> {
                try (FrameChannel ch = new FrameChannel(connect(listener.getLocalPort()), null)) {
                    ch.limit(RoundLimits.clientEnd(shapes));
                    ch.send(Message.of(Message.Type.HELLO, 0, 0));
                    assertEquals(model.client().params().length(), ch.expect(Message.Type.MODEL).tensor(0).elements());
                    ch.send(smashed(0, activations(BATCH, shapes.cut()), new int[]{0, 1, 2, 3}));
                    Message g = ch.expect(Message.Type.GRADIENT);
                    assertArrayEquals(new long[]{BATCH, 64, 7, 7}, g.tensor(0).shape());
                    ch.send(Message.of(Message.Type.MODEL, 0, 0, Tensor.of(Kind.MODEL, model.client().params())));
                    osuDone.countDown();
                    // Its work is done: the round ends (osu is told why if it fails because of umich).
                    return assertThrows(TransportException.class, ch::receive).getMessage();
                } finally {
                    osuDone.countDown();
                }
            });
            Future<?> umich = pool.submit(() -> {
                try (Socket s = connect(listener.getLocalPort()); FrameChannel ch = new FrameChannel(s, null)) {
                    ch.send(Message.of(Message.Type.HELLO, 1, 0));
                    ch.expect(Message.Type.MODEL);
                    assertTrue(osuDone.await(TIMEOUT_MS, TimeUnit.MILLISECONDS));
                    OutputStream out = s.getOutputStream();
                    out.write(hostile(frame, shapes.cut()));
                    out.flush();
                    return assertThrows(TransportException.class, ch::receive).getMessage();
                }
            });
            if (frame.equals("nan")) {
                // A non-finite value is refused as a divergence (the run stops, unretried), naming the minibatch too.
                ExecutionException failed = assertThrows(ExecutionException.class, () -> serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
                String named = "diverged in round 0, institute umich (client 1), minibatch 0: ";
                RuntimeException refused = assertInstanceOf(Divergence.class, failed.getCause());
                assertTrue(refused.getMessage().startsWith(named) && refused.getMessage().contains(check), refused.getMessage());
                String toOsu = osu.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                assertTrue(toOsu.contains("server failed: " + named) && toOsu.contains(check), toOsu);
                umich.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                return;
            }
            serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            String why = server.refused().get(1);
            assertEquals(List.of(1), List.copyOf(server.refused().keySet()));
            assertTrue(why.startsWith("institute umich (client 1): ") && why.contains(check), why);
            assertEquals(java.util.Set.of("client/0", "server"), server.models().keySet(), "osu's model is kept, umich's is not");
            String toUmich = String.valueOf(umich.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
            assertTrue(toUmich.contains(SyncServer.REFUSED + why), toUmich);
            osu.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    @Test
    void theLinkProbesFramesPassItsLimitsAndLargerOnesDoNot() {
        FrameLimits limits = LinkProbe.limits().forClient(2);
        List<Message> bulk = LinkProbe.frames(2, 2, 3 * LinkProbe.CHUNK_BYTES + 5);
        for (Message m : bulk) {
            assertEquals(m.tensor(0).elements(), FrameCodec.decode(FrameCodec.encode(m), limits).tensor(0).elements());
        }
        byte[] hello = FrameCodec.encode(Message.of(Message.Type.HELLO, 2, 0));
        assertEquals(Message.Type.HELLO, FrameCodec.decode(hello, limits).type());
        int over = LinkProbe.CHUNK_BYTES / 4 + 1;
        Message big = Message.of(Message.Type.PROBE, 2, 2, new Tensor(Kind.CONTROL, new long[]{over}, new float[over], null));
        TransportException e = assertThrows(TransportException.class, () -> FrameCodec.decode(FrameCodec.encode(big), limits));
        assertTrue(e.getMessage().contains("CONTROL shape [" + over + "] is not the expected [1.." + (over - 1) + "]"), e.getMessage());
    }
}
