package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * The models a config can name. Each is a flat list of layers; {@link ModelSpec#cut()} says how
 * many of them form the client part. A cut of 0 selects the model's default cut.
 */
public final class ModelZoo {
    private ModelZoo() {
    }

    private record Entry(int defaultCut, Function<ModelSpec, List<Layer>> layers) {
    }

    private static final Map<String, Entry> MODELS = Map.of(
            "fmnist_cnn", new Entry(6, ModelZoo::fmnistCnn),
            "simple_conv", new Entry(8, ModelZoo::simpleConv));

    public static List<String> names() {
        return MODELS.keySet().stream().sorted().toList();
    }

    /** The project's Fashion-MNIST CNN: two 3x3 conv blocks on the client, an MLP on the server. */
    private static List<Layer> fmnistCnn(ModelSpec s) {
        long c = s.inputShape()[0];
        long h = s.inputShape()[1] / 4;
        long w = s.inputShape()[2] / 4;
        return List.of(
                new Conv2d((int) c, 32, 3, 1, 1), new Relu(), new MaxPool2d(2, 2, 0),
                new Conv2d(32, 64, 3, 1, 1), new Relu(), new MaxPool2d(2, 2, 0),
                new Flatten(), new Dense((int) (64 * h * w), 128), new Relu(), new Dense(128, s.classes()));
    }

    /**
     * The FSL-SAGE reference's small CNN (the TensorFlow CIFAR-10 tutorial network): conv 5x5x64,
     * max-pool 3/2, LRN, conv 5x5x64, LRN, max-pool 3/2 on the client; dense 384-192-classes on the server.
     */
    private static List<Layer> simpleConv(ModelSpec s) {
        long c = s.inputShape()[0];
        long h = pooled(pooled(s.inputShape()[1]));
        long w = pooled(pooled(s.inputShape()[2]));
        return List.of(
                new Conv2d((int) c, 64, 5, 1, 2), new Relu(), new MaxPool2d(3, 2, 1), lrn(),
                new Conv2d(64, 64, 5, 1, 2), new Relu(), lrn(), new MaxPool2d(3, 2, 1),
                new Flatten(), new Dense((int) (64 * h * w), 384), new Relu(), new Dense(384, 192), new Relu(),
                new Dense(192, s.classes()));
    }

    private static long pooled(long size) {
        return (size + 2 - 3) / 2 + 1;
    }

    /** TensorFlow tutorial values: depth radius 4, bias 1, alpha 0.001/9, beta 0.75. */
    private static LocalResponseNorm lrn() {
        return new LocalResponseNorm(4, 1.0, 0.001 / 9.0, 0.75);
    }

    /** All layers of the named model, validated against its input shape. */
    public static List<Layer> layers(ModelSpec spec) {
        Entry e = MODELS.get(spec.name());
        if (e == null) {
            throw new IllegalArgumentException("unknown model '" + spec.name() + "'; known models: " + names());
        }
        return e.layers.apply(spec);
    }

    /** The cut a spec selects, validated: 1 <= cut < number of layers. */
    public static int cut(ModelSpec spec) {
        int n = layers(spec).size();
        int cut = spec.cut() == 0 ? MODELS.get(spec.name()).defaultCut : spec.cut();
        if (cut < 1 || cut >= n) {
            throw new IllegalArgumentException("model.cut = " + spec.cut() + " is outside 1.." + (n - 1) + " for "
                    + spec.name() + " (layers: " + describe(layers(spec)) + ")");
        }
        return cut;
    }

    private static String describe(List<Layer> layers) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            names.add((i + 1) + ":" + layers.get(i).describe());
        }
        return String.join(" ", names);
    }

    /** The unsplit network with seeded initial parameters. */
    public static Network full(ModelSpec spec, long seed) {
        return full(spec, seed, DataType.FLOAT);
    }

    /** As {@link #full(ModelSpec, long)} in another precision (gradient checks run in DOUBLE). */
    public static Network full(ModelSpec spec, long seed, DataType dataType) {
        return new Network(layers(spec), spec.inputShape(), dataType).initialize(new Random(seed));
    }

    /** The same network cut in two; the parameters equal those of {@link #full} for the same seed. */
    public static SplitModel split(ModelSpec spec, long seed) {
        return split(spec, seed, DataType.FLOAT);
    }

    /** As {@link #split(ModelSpec, long)} in another precision. */
    public static SplitModel split(ModelSpec spec, long seed, DataType dataType) {
        List<Layer> layers = layers(spec);
        int cut = cut(spec);
        Network client = new Network(layers.subList(0, cut), spec.inputShape(), dataType);
        Network server = new Network(layers.subList(cut, layers.size()), client.outputShape(), dataType);
        SplitModel model = new SplitModel(client, server);
        model.setFullParams(full(spec, seed, dataType).params());
        return model;
    }

    /** Auxiliary model kinds: {@code linear} (one dense layer) or {@code mlp} (dense, ReLU, dense). */
    public static final List<String> AUXILIARY = List.of("linear", "mlp");

    /**
     * An auxiliary model a_i from the cut activations of {@code spec} to its classes, seeded
     * independently of the main model.
     */
    public static Network auxiliary(ModelSpec spec, String kind, int hidden, long seed) {
        long[] cut = split(spec, seed).cutShape();
        long in = 1;
        for (long d : cut) {
            in *= d;
        }
        List<Layer> layers = switch (kind) {
            case "linear" -> List.of(new Flatten(), new Dense((int) in, spec.classes()));
            case "mlp" -> List.of(new Flatten(), new Dense((int) in, hidden), new Relu(), new Dense(hidden, spec.classes()));
            default -> throw new IllegalArgumentException("unknown auxiliary model '" + kind + "'; known: " + AUXILIARY);
        };
        return new Network(layers, cut).initialize(new Random(seed ^ 0x5A6EL));
    }
}
