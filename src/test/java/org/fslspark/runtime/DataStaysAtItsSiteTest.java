package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.data.LabeledImages;
import org.fslspark.data.PartitionStore;
import org.fslspark.data.SyntheticText;
import org.fslspark.data.TokenSequences;
import org.fslspark.data.TokenStore;
import org.fslspark.transport.Direction;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.TrafficMeter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What crosses a site boundary, recorded where it is metered (every message any client's meter books,
 * both directions), and what the client tasks hand the driver (the round checkpoints' executor frames):
 * no tensor holds a window of any training input (an image as the model sees it, or a run of token ids
 * other than the labels), and the kinds of tensor are exactly those ALGORITHMS.md lists for the algorithm.
 * A language model's labels are its input shifted by one token: that the server site sees the text that
 * way is asserted too, not hidden.
 */
class DataStaysAtItsSiteTest {
    /** Values per window: 16 floats of an image (64 bytes), or 8 token ids. */
    private static final int FLOAT_WINDOW = 16;
    private static final int TOKEN_WINDOW = 8;

    private static final Set<Kind> SPLIT_UP = EnumSet.of(Kind.CONTROL, Kind.ACTIVATIONS, Kind.LABELS, Kind.MODEL);
    private static final Set<Kind> SPLIT_DOWN = EnumSet.of(Kind.MODEL, Kind.GRADIENTS);
    private static final Set<Kind> AUX_UP = EnumSet.of(Kind.ACTIVATIONS, Kind.LABELS, Kind.MODEL, Kind.AUXILIARY_MODEL);
    private static final Set<Kind> AUX_DOWN = EnumSet.of(Kind.MODEL, Kind.AUXILIARY_MODEL);
    private static final Set<Kind> SAGE_UP = EnumSet.of(Kind.ACTIVATIONS, Kind.LABELS, Kind.MODEL);
    /**
     * ALGORITHMS.md: FedAvg moves whole models; SL and SplitFed activations and labels up, gradients down, client
     * models both ways (a HELLO opens the channel); CSE-FSL no gradients, auxiliary heads both ways (averaged);
     * FSL-SAGE no gradients, the server's aligned heads down only.
     */
    private static final Map<String, Map<Direction, Set<Kind>>> KINDS = Map.of(
            "fedavg", Map.of(Direction.UP, EnumSet.of(Kind.MODEL), Direction.DOWN, EnumSet.of(Kind.MODEL)),
            "sl", Map.of(Direction.UP, SPLIT_UP, Direction.DOWN, SPLIT_DOWN),
            "splitfed-v1", Map.of(Direction.UP, SPLIT_UP, Direction.DOWN, SPLIT_DOWN),
            "splitfed-v2", Map.of(Direction.UP, SPLIT_UP, Direction.DOWN, SPLIT_DOWN),
            "cse-fsl", Map.of(Direction.UP, AUX_UP, Direction.DOWN, AUX_DOWN),
            "fsl-sage", Map.of(Direction.UP, SAGE_UP, Direction.DOWN, AUX_DOWN));

    @TempDir
    static java.nio.file.Path dir;
    static SparkSession spark;
    static String[] images;
    static Windows imageWindows;
    private final List<Crossing> crossed = new CopyOnWriteArrayList<>();

    private record Crossing(Direction direction, Message message) {
    }

    @BeforeAll
    static void start() throws Exception {
        images = new String[]{"institutes=[osu, iitb]", "data.train-subset=200", "train.batch-size=32",
                "data.partition.scheme=iid", "server-interval=2", "alignment.epochs=5", Fixtures.smallTestSet(dir.resolve("test"), 100)};
        spark = Fixtures.spark();
        Experiment e = Fixtures.experiment(dir, images);
        Fixtures.prepare(e);
        List<float[]> inputs = new ArrayList<>();
        for (String institute : e.institutes()) {
            LabeledImages data = PartitionStore.read(new Configuration(), new Path(e.data().locationOf(institute)), institute);
            for (int i = 0; i < data.size(); i++) {
                inputs.add(data.features(new int[]{i}).data().asFloat());
            }
        }
        imageWindows = Windows.ofImages(inputs);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @AfterEach
    void stopObserving() {
        TrafficMeter.observe(null);
    }

    private void observe() {
        TrafficMeter.observe((d, m) -> crossed.add(new Crossing(d, m)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedavg", "sl", "splitfed-v1", "splitfed-v2", "cse-fsl", "fsl-sage"})
    void noImageCrossesAndTheKindsAreTheSpecifications(String algorithm) throws Exception {
        java.nio.file.Path out = dir.resolve("out-" + algorithm);
        observe();
        // Heads go down from round 1 on (CSE-FSL's average, FSL-SAGE's first alignment); the others show every kind in round 0.
        int rounds = Set.of("cse-fsl", "fsl-sage").contains(algorithm) ? 2 : 1;
        FederatedTraining.run(Fixtures.experiment(dir, EndToEndTest.concat(images, "algorithm=" + algorithm, "train.rounds=" + rounds,
                "output=\"" + out + "\"")), spark, true, r -> { });
        TrafficMeter.observe(null);
        assertEquals(KINDS.get(algorithm), kinds(), algorithm);
        for (Message m : messages()) {
            for (Tensor t : m.tensors()) {
                assertFalse(t.isFloat() && imageWindows.foundIn(t.floats()), algorithm + ": a " + t.kind() + " tensor holds an image");
            }
        }
        List<Message> handedOver = executorFrames(out);
        assertFalse(handedOver.isEmpty(), "no executor state in the checkpoints");
        for (Message m : handedOver) {
            for (Tensor t : m.tensors()) {
                assertFalse(t.isFloat() && imageWindows.foundIn(t.floats()), algorithm + ": checkpointed " + t.kind() + " holds an image");
            }
        }
    }

    @Test
    void theDetectorFindsAnImageWhereOneIs() throws Exception {
        Experiment e = Fixtures.experiment(dir, images);
        LabeledImages data = PartitionStore.read(new Configuration(), new Path(e.data().locationOf("iitb")), "iitb");
        float[] batch = data.features(new int[]{3, 4, 5}).data().asFloat();
        assertTrue(imageWindows.foundIn(batch));
        float[] shifted = new float[batch.length + 7];
        System.arraycopy(batch, 0, shifted, 7, batch.length);
        assertTrue(imageWindows.foundIn(shifted), "an image at an odd offset");
        float[] perturbed = batch.clone();
        for (int i = 0; i < perturbed.length; i++) {
            perturbed[i] = Math.nextUp(perturbed[i]);
        }
        assertFalse(imageWindows.foundIn(perturbed));
    }

    @ParameterizedTest
    @ValueSource(strings = {"splitfed-v2", "fsl-sage"})
    void aLanguageModelsTokensCrossOnlyAsTheLabelsTheServersLossNeeds(String algorithm) throws Exception {
        java.nio.file.Path text = dir.resolve("text-" + algorithm);
        SyntheticText.writeFiles(text.resolve("corpus"), SyntheticText.documents(20, 16, 2, 11));
        Experiment e = TextEndToEndTest.experiment(text, "algorithm=" + algorithm, "train.rounds=2", "auxiliary.model=block",
                "server-interval=2", "alignment.epochs=2", "output=\"" + text.resolve("out") + "\"");
        PrepareJob.run(e, true, null);
        List<TokenSequences> sites = new ArrayList<>();
        for (String institute : e.institutes()) {
            sites.add(TokenStore.read(new Configuration(), new Path(e.data().locationOf(institute)), institute));
        }
        Set<List<Integer>> tokenWindows = new HashSet<>();
        Set<List<Integer>> targets = new HashSet<>();
        for (TokenSequences s : sites) {
            int width = s.context() + 1;
            for (int q = 0; q < s.size(); q++) {
                int[] seq = Arrays.copyOfRange(s.tokens(), q * width, (q + 1) * width);
                for (int i = 0; i + TOKEN_WINDOW <= seq.length; i++) {
                    tokenWindows.add(list(Arrays.copyOfRange(seq, i, i + TOKEN_WINDOW)));
                }
                targets.add(list(Arrays.copyOfRange(seq, 1, width)));
            }
        }
        observe();
        FederatedTraining.run(e, spark, true, r -> { });
        TrafficMeter.observe(null);
        assertEquals(KINDS.get(algorithm), kinds(), algorithm);
        int labelled = 0;
        for (Message m : messages()) {
            for (Tensor t : m.tensors()) {
                if (t.isFloat()) {
                    continue;
                }
                if (t.kind() == Kind.LABELS) {
                    // Each sequence's labels are its tokens 1..T: the server site reads the text, less its first token.
                    int context = sites.get(0).context();
                    for (int q = 0; q < t.ints().length / context; q++) {
                        assertTrue(targets.contains(list(Arrays.copyOfRange(t.ints(), q * context, (q + 1) * context))));
                        labelled++;
                    }
                } else {
                    int[] v = t.ints();
                    for (int i = 0; i + TOKEN_WINDOW <= v.length; i++) {
                        assertFalse(tokenWindows.contains(list(Arrays.copyOfRange(v, i, i + TOKEN_WINDOW))),
                                algorithm + ": a " + t.kind() + " tensor holds token ids");
                    }
                }
            }
        }
        assertTrue(labelled > 0, "no labels crossed");
    }

    private Map<Direction, Set<Kind>> kinds() {
        Map<Direction, Set<Kind>> seen = new EnumMap<>(Direction.class);
        for (Crossing c : crossed) {
            Set<Kind> kinds = seen.computeIfAbsent(c.direction(), x -> EnumSet.noneOf(Kind.class));
            if (c.message().tensors().isEmpty()) {
                kinds.add(Kind.CONTROL);
            }
            c.message().tensors().forEach(t -> kinds.add(t.kind()));
        }
        return seen;
    }

    private List<Message> messages() {
        return crossed.stream().map(Crossing::message).toList();
    }

    /** What the client and server tasks handed the driver, as the round checkpoints keep it. */
    private static List<Message> executorFrames(java.nio.file.Path out) throws Exception {
        List<Message> frames = new ArrayList<>();
        try (Stream<java.nio.file.Path> files = Files.walk(out.resolve("state"))) {
            for (java.nio.file.Path f : files.filter(p -> p.toString().endsWith(".frame") && p.toString().contains("/executors/")).toList()) {
                frames.add(FrameCodec.decode(Files.readAllBytes(f)));
            }
        }
        return frames;
    }

    private static List<Integer> list(int[] v) {
        return Arrays.stream(v).boxed().toList();
    }

    /**
     * Windows of 16 consecutive values of the training images, taken at every 16th position and kept only
     * when at least 8 of their values differ (a background run is in every image and proves nothing),
     * indexed by a hash of their 16 values (sorted, for a binary search without boxing). An image anywhere
     * in a tensor, at any offset, holds such a window.
     */
    record Windows(int[] hashes, Map<Integer, List<float[]>> byHash) {
        static Windows ofImages(List<float[]> images) {
            Map<Integer, List<float[]>> byHash = new HashMap<>();
            for (float[] image : images) {
                for (int i = 0; i + FLOAT_WINDOW <= image.length; i += FLOAT_WINDOW) {
                    float[] w = Arrays.copyOfRange(image, i, i + FLOAT_WINDOW);
                    Set<Float> distinct = new HashSet<>();
                    for (float v : w) {
                        distinct.add(v);
                    }
                    if (distinct.size() >= FLOAT_WINDOW / 2) {
                        byHash.computeIfAbsent(hash(w, 0), k -> new ArrayList<>()).add(w);
                    }
                }
            }
            return new Windows(byHash.keySet().stream().mapToInt(Integer::intValue).sorted().toArray(), byHash);
        }

        private static int hash(float[] v, int from) {
            int h = 1;
            for (int i = from; i < from + FLOAT_WINDOW; i++) {
                h = 31 * h + Float.floatToIntBits(v[i]);
            }
            return h;
        }

        boolean foundIn(float[] values) {
            for (int o = 0; o + FLOAT_WINDOW <= values.length; o++) {
                int h = hash(values, o);
                if (Arrays.binarySearch(hashes, h) < 0) {
                    continue;
                }
                for (float[] w : byHash.get(h)) {
                    if (Arrays.equals(w, 0, FLOAT_WINDOW, values, o, o + FLOAT_WINDOW)) {
                        return true;
                    }
                }
            }
            return false;
        }
    }
}
