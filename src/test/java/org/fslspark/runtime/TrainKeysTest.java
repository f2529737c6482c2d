package org.fslspark.runtime;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.data.PartitionStore;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keys that must change what they say they change, each on a tiny real run (two institutes, 400 Fashion-MNIST
 * images on a Dirichlet split, one or two rounds, 1,000 test images), and the checkpoint's byte layout decoded
 * without the project's reader. One SparkSession for all.
 */
class TrainKeysTest {
    static SparkSession spark;
    @TempDir
    static java.nio.file.Path dir;
    static String[] setup;
    static Evaluator.Result untrained;

    @BeforeAll
    static void start() throws Exception {
        setup = new String[]{"institutes=[osu, iitb]", "data.train-subset=400", "train.rounds=1", "train.batch-size=16",
                Fixtures.smallTestSet(dir.resolve("source"), 1000)};
        Fixtures.prepare(Fixtures.experiment(dir, setup));
        spark = Fixtures.spark();
        Experiment e = experiment("untrained");
        SplitModel initial = ModelZoo.split(e.model(), e.seed());
        untrained = new Evaluator(SiteData.readTest(new Configuration(), e.data().testLocation()), initial,
                e.train().evalBatchSize()).evaluate(initial.client().params(), initial.server().params());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static Experiment experiment(String name, String... more) {
        return Fixtures.experiment(dir, EndToEndTest.concat(EndToEndTest.concat(setup, "output=\"" + dir.resolve(name) + "\""),
                more));
    }

    static FederatedTraining.Summary train(String name, String... more) {
        return FederatedTraining.run(experiment(name, more), spark, true, r -> { });
    }

    private static FederatedTraining.Summary fedAvgBySamples;

    /** One round of FedAvg weighted by samples (the default): the weights test and the checkpoint test read it. */
    static synchronized FederatedTraining.Summary fedAvgBySamples() {
        if (fedAvgBySamples == null) {
            fedAvgBySamples = train("weights-samples", "algorithm=fedavg", "train.weights=samples");
        }
        return fedAvgBySamples;
    }

    /** Payload bytes of one kind and direction per institute in a round, from traffic.csv. */
    static List<Long> payload(String name, int round, String direction, String kind) throws Exception {
        return Files.readAllLines(dir.resolve(name).resolve("traffic.csv")).stream().skip(1).map(l -> l.split(","))
                .filter(f -> f[2].equals(Integer.toString(round)) && f[4].equals(direction) && f[5].equals(kind))
                .map(f -> Long.parseLong(f[6])).toList();
    }

    static void assertFinite(INDArray a) {
        for (float v : a.data().asFloat()) {
            assertTrue(Float.isFinite(v), "non-finite parameter");
        }
    }

    @Test
    void uniformWeightsAverageTheClientsEquallyAndSampleWeightsByTheirSizes() {
        Experiment e = experiment("hand", "algorithm=fedavg");
        long[] n = e.institutes().stream().mapToLong(i -> PartitionStore.describe(new Configuration(),
                new Path(e.data().locationOf(i))).samples()).toArray();
        assertNotEquals(n[0], n[1], "the Dirichlet split should give unequal institutes");
        FederatedTraining.Summary samples = fedAvgBySamples();
        FederatedTraining.Summary uniform = train("weights-uniform", "algorithm=fedavg", "train.weights=uniform");
        assertNotEquals(samples.clientParams(), uniform.clientParams());

        // The same round's per-client models, from the round stage itself, averaged by hand.
        SplitModel initial = ModelZoo.split(e.model(), e.seed());
        RoundPlan plan = new RoundPlan("hand-average", 0, "fedavg", e.settings(), e.model(), e.init(), e.train().optimizer(),
                e.train().serverOptimizer(), e.train().batchSize(), e.train().localEpochs(), e.seed(), e.institutes(),
                e.institutes().stream().map(e.data()::locationOf).toList(), e.serverSite(), e.train().serverOrder(), Map.of(),
                initial.client().params().data().asFloat(), initial.server().params().data().asFloat(), Map.of(),
                TestbedPlan.NONE, Map.of(), false, "");
        float[][][] clients = new float[2][][];
        try {
            for (TaskReport r : LocalRound.run(JavaSparkContext.fromSparkContext(spark.sparkContext()), plan, SiteExecutors.NONE)) {
                if (r.client() < 0) {
                    continue;
                }
                Message m = FrameCodec.decode(r.models().get("client/" + r.client()));
                clients[r.client()] = new float[][]{m.tensor(0).toArray().data().asFloat(), m.tensor(1).toArray().data().asFloat()};
            }
        } finally {
            TaskState.clear(plan.runId());
        }
        assertAverage(clients, new double[]{0.5, 0.5}, uniform);
        assertAverage(clients, new double[]{(double) n[0] / (n[0] + n[1]), (double) n[1] / (n[0] + n[1])}, samples);
    }

    /** The run's final x_c and x_s are the weighted sums of the clients' (to float rounding). */
    private static void assertAverage(float[][][] clients, double[] w, FederatedTraining.Summary run) {
        float[][] finals = {run.clientParams().data().asFloat(), run.serverParams().data().asFloat()};
        for (int part = 0; part < 2; part++) {
            for (int i = 0; i < finals[part].length; i++) {
                double expected = w[0] * clients[0][part][i] + w[1] * clients[1][part][i];
                assertEquals(expected, finals[part][i], 1e-6 + 1e-5 * Math.abs(expected), "part " + part + ", parameter " + i);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "nesterovs"})
    void sgdAndNesterovsTrain(String optimizer) {
        // FedAvg steps the whole model with train.optimizer; adam's default rate is too small for these optimizers.
        FederatedTraining.Summary s = train("optimizer-" + optimizer, "algorithm=fedavg", "train.local-epochs=2",
                "train.optimizer={name=" + optimizer + ", learning-rate=0.05, momentum=0.9}");
        double accuracy = s.last().testAccuracy();
        assertTrue(s.last().testLoss() < untrained.loss() - 0.1 && accuracy > 0.2,
                optimizer + ": loss " + untrained.loss() + " -> " + s.last().testLoss() + ", accuracy " + accuracy);
    }

    @ParameterizedTest
    @ValueSource(strings = {"cse-fsl", "fsl-sage"})
    void anMlpAuxiliaryModelIsTrainedAndTravelsInPlaceOfTheLinearOne(String algorithm) throws Exception {
        Experiment e = experiment("x", "auxiliary.model=mlp");
        long mlp = ModelZoo.auxiliary(e.model(), "mlp", e.settings().auxiliaryHidden(), e.seed()).numParams();
        long linear = ModelZoo.auxiliary(e.model(), "linear", e.settings().auxiliaryHidden(), e.seed()).numParams();
        assertNotEquals(linear, mlp);
        // CSE-FSL uploads a_i for averaging every round; FSL-SAGE sends the aligned a_i down, first in round 1
        // (round 0 has nothing to align on), so it runs two rounds, aligning every round, briefly. The server steps
        // on every minibatch (q = 1) so that one round of so few samples lowers the loss surely.
        boolean sage = algorithm.equals("fsl-sage");
        String name = "aux-mlp-" + algorithm;
        FederatedTraining.Summary s = train(name, "algorithm=" + algorithm, "auxiliary.model=mlp", "train.rounds=" + (sage ? 2 : 1),
                "server-interval=1", "alignment.interval=1", "alignment.epochs=5");
        assertEquals(List.of(4 * mlp, 4 * mlp), payload(name, sage ? 1 : 0, sage ? "down" : "up", "auxiliary_model"));
        assertFinite(s.clientParams());
        assertTrue(s.last().testLoss() < untrained.loss() - 0.1 && s.last().testAccuracy() > 0.2, algorithm + ": loss "
                + untrained.loss() + " -> " + s.last().testLoss() + ", accuracy " + s.last().testAccuracy());
    }

    @Test
    void theSimpleConvModelTrainsAboveChance() {
        FederatedTraining.Summary s = train("simple-conv", "model.name=simple_conv", "algorithm=splitfed-v2");
        assertEquals(ModelZoo.split(experiment("x", "model.name=simple_conv").model(), 1).client().numParams(),
                s.clientParams().length());
        assertTrue(s.last().testAccuracy() > 0.2, "accuracy " + s.last().testAccuracy());
    }

    @Test
    void localStarIsWidenedToASlotPerTaskOfABarrierRound() {
        // Four clients and the server run at once in a barrier round: 5 slots, whatever the machine's cores.
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals("local[" + Math.max(cores, 5) + "]", Sparks.master("local[*]", 5));
        assertEquals("local[5,3]", Sparks.master("local[2,3]", 5));
        assertEquals("local[8]", Sparks.master("local[8]", 5));
        assertEquals("spark://127.0.0.1:7077", Sparks.master("spark://127.0.0.1:7077", 5));
        // A real run with local[*] and a barrier algorithm: CommandsTest's train runs (--master local[*], 4 institutes).
    }

    @Test
    void theCheckpointIsLittleEndianFloat32ClientThenServerAsModelJsonCounts() throws Exception {
        FederatedTraining.Summary s = fedAvgBySamples();
        java.nio.file.Path model = dir.resolve("weights-samples/model");
        FloatBuffer params = ByteBuffer.wrap(Files.readAllBytes(model.resolve("params.f32"))).order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer();
        float[] client = s.clientParams().data().asFloat();
        float[] server = s.serverParams().data().asFloat();
        assertEquals(client.length + server.length, params.remaining());
        for (int i = 0; i < client.length; i++) {
            assertEquals(Float.floatToRawIntBits(client[i]), Float.floatToRawIntBits(params.get(i)), "x_c[" + i + "]");
        }
        for (int i = 0; i < server.length; i++) {
            assertEquals(Float.floatToRawIntBits(server[i]), Float.floatToRawIntBits(params.get(client.length + i)), "x_s[" + i + "]");
        }
        JsonObject json = JsonParser.parseString(Files.readString(model.resolve("model.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertEquals(client.length + server.length, json.get("parameters").getAsLong());
        assertEquals("fmnist_cnn", json.get("name").getAsString());
        assertEquals(10, json.get("classes").getAsInt());
        assertEquals("[1,28,28]", json.get("input_shape").toString());
        assertEquals("fedavg", json.getAsJsonObject("origin").get("algorithm").getAsString());
        assertEquals(1, json.getAsJsonObject("origin").get("rounds").getAsInt());
    }
}
