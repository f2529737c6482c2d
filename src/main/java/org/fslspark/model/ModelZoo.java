package org.fslspark.model;

import org.nd4j.linalg.api.buffer.DataType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The models a config can name. Each is a flat list of layers; {@link ModelSpec#cut()} says where
 * the client part ends, counted in the model's cut units: layers for the image models, blocks for
 * the GPT (whose client part also holds the embeddings). A cut of 0 selects the model's default.
 */
public final class ModelZoo {
    private ModelZoo() {
    }

    /**
     * A zoo model. The client part is its first {@code leading} layers plus {@code cut} more; the
     * server part keeps at least its last {@code trailing} layers. Options not in
     * {@code optionDefaults} are refused.
     */
    private record Entry(int defaultCut, int leading, int trailing, Map<String, Integer> optionDefaults,
                         Function<ModelSpec, List<Layer>> layers, boolean pooledAuxiliary) {
        Entry(int defaultCut, int leading, int trailing, Map<String, Integer> optionDefaults,
              Function<ModelSpec, List<Layer>> layers) {
            this(defaultCut, leading, trailing, optionDefaults, layers, false);
        }
    }

    private static final Map<String, Entry> MODELS = Map.of(
            "fmnist_cnn", new Entry(6, 0, 1, Map.of(), ModelZoo::fmnistCnn),
            "simple_conv", new Entry(8, 0, 1, Map.of(), ModelZoo::simpleConv),
            "simple_conv_tf", new Entry(8, 0, 1, Map.of(), ModelZoo::simpleConvTf),
            // embeddings | blocks | final norm, head; the default client runs the embeddings and one block
            "gpt", new Entry(1, 1, 2, Map.of("width", 128, "depth", 4, "heads", 4), ModelZoo::gpt),
            // stem | stages | pool, head: cut 1 = after the stem, k + 1 = after stage k; auxiliary heads pool first.
            // resnet20's default is the reference's CIFAR ResNets' client (stem and stage 1),
            // resnet18's the reference's ResNet-18 client (stem and stages 1-2, 128 channels at the cut).
            "resnet20", new Entry(2, 0, 2, Map.of("width", 16), ModelZoo::resnet20, true),
            "resnet18", new Entry(3, 0, 2, Map.of("width", 64), ModelZoo::resnet18, true));

    public static List<String> names() {
        return MODELS.keySet().stream().sorted().toList();
    }

    /** The named model's default for the option {@code key}, or null if the model (or no model) takes that option. */
    public static Integer optionDefault(String model, String key) {
        Entry e = MODELS.get(model);
        return e == null ? null : e.optionDefaults.get(key);
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
     * The FSL-SAGE reference's small CNN (its models/simple_conv.py, after the TensorFlow CIFAR-10 tutorial network):
     * conv 5x5x64, max-pool 3/2, LRN, conv 5x5x64, LRN, max-pool 3/2 on the client; dense 384-192-classes on the server.
     * As the reference: PyTorch's LocalResponseNorm(size 4, alpha 0.001/9, beta 0.75, k 1), and the dense layers'
     * weights and biases drawn from N(0, 0.05); the convolutions keep PyTorch's default initialisation.
     */
    private static List<Layer> simpleConv(ModelSpec s) {
        return simpleConv(s, () -> LocalResponseNorm.pytorch(4, 0.001 / 9.0, 0.75, 1.0), 0.05);
    }

    /**
     * simple_conv as this project defined it before 2026-12-03, the TensorFlow tutorial's own: LRN of depth radius 4
     * (a window of 9 channels) with alpha 0.001/9, and PyTorch's default initialisation everywhere. The reproduction
     * figures measured before that date are this model's.
     */
    private static List<Layer> simpleConvTf(ModelSpec s) {
        return simpleConv(s, () -> LocalResponseNorm.tensorflow(4, 1.0, 0.001 / 9.0, 0.75), 0);
    }

    /** simple_conv's layers with the given normalisation and, when {@code denseStd} > 0, normal dense layers. */
    private static List<Layer> simpleConv(ModelSpec s, java.util.function.Supplier<LocalResponseNorm> lrn, double denseStd) {
        long c = s.inputShape()[0];
        long h = pooled(pooled(s.inputShape()[1]));
        long w = pooled(pooled(s.inputShape()[2]));
        return List.of(
                new Conv2d((int) c, 64, 5, 1, 2), new Relu(), new MaxPool2d(3, 2, 1), lrn.get(),
                new Conv2d(64, 64, 5, 1, 2), new Relu(), lrn.get(), new MaxPool2d(3, 2, 1),
                new Flatten(), dense((int) (64 * h * w), 384, denseStd), new Relu(), dense(384, 192, denseStd), new Relu(),
                dense(192, s.classes(), denseStd));
    }

    /** A dense layer with weights and biases from N(0, std), or PyTorch's default initialisation when std is 0. */
    private static Dense dense(int in, int out, double std) {
        return std > 0 ? Dense.normal(in, out, std) : new Dense(in, out);
    }

    /**
     * He et al.'s CIFAR ResNet-20: a 3x3 stem of {@code width} (16) channels with batch norm and ReLU,
     * three stages of three basic blocks of width, 2 width and 4 width channels (the last two
     * starting with stride 2), global average pool and a linear head. Shortcuts that change shape are
     * 1x1 convolutions with batch norm (option B). Kaiming-normal (fan-in) convolutions, as the
     * reference's CIFAR ResNets.
     */
    private static List<Layer> resnet20(ModelSpec s) {
        return resnet(s, MODELS.get("resnet20").optionDefaults.get("width"), new int[]{3, 3, 3}, false);
    }

    /**
     * ResNet-18 in its CIFAR form, as the FSL-SAGE reference's: a 3x3 stem of {@code width} (64)
     * channels with batch norm and ReLU and no max-pool, four stages of two basic blocks of 64-128-256-512
     * channels (strides 1, 2, 2, 2), global average pool and a linear head; Kaiming-normal (fan-out)
     * convolutions, as torchvision's. The option {@code width} ({@code model.width}) scales every stage.
     */
    private static List<Layer> resnet18(ModelSpec s) {
        return resnet(s, MODELS.get("resnet18").optionDefaults.get("width"), new int[]{2, 2, 2, 2}, true);
    }

    /** Stem, one stage per entry of {@code blocks} (doubling the channels and halving the size after the first), pool, head. */
    private static List<Layer> resnet(ModelSpec s, int defaultWidth, int[] blocks, boolean fanOut) {
        if (s.inputShape().length != 3) {
            throw new IllegalArgumentException(s.name() + " expects an input shape [channels, height, width], got "
                    + Arrays.toString(s.inputShape()));
        }
        int width = s.option("width", defaultWidth);
        if (width < 1) {
            throw new IllegalArgumentException(s.name() + " needs width >= 1, got " + width);
        }
        int c = (int) s.inputShape()[0];
        List<Layer> layers = new ArrayList<>();
        layers.add(new Stack("stem" + width, List.of(Conv2d.resnet(c, width, 3, 1, 1, fanOut), new BatchNorm2d(width), new Relu())));
        int in = width;
        for (int stage = 0; stage < blocks.length; stage++) {
            int out = width << stage;
            List<Layer> stageBlocks = new ArrayList<>();
            for (int b = 0; b < blocks[stage]; b++) {
                stageBlocks.add(new BasicBlock(in, out, b == 0 && stage > 0 ? 2 : 1, fanOut));
                in = out;
            }
            layers.add(new Stack("stage" + (stage + 1) + "x" + out, stageBlocks));
        }
        layers.add(new GlobalAvgPool());
        layers.add(new Dense(in, s.classes()));
        return layers;
    }

    private static long pooled(long size) {
        return (size + 2 - 3) / 2 + 1;
    }

    /** TensorFlow tutorial values: depth radius 4, bias 1, alpha 0.001/9, beta 0.75. */

    /**
     * A GPT-style decoder (GPT-2's architecture without dropout): token and learned position
     * embeddings, {@code depth} pre-norm transformer blocks, a final layer norm and an untied
     * language-model head [width, vocab] giving next-token logits [b, t, vocab]. Its layers are this
     * package's own on ND4J ops, not DL4J layers or SameDiff (see {@link TransformerBlock}).
     */
    private static List<Layer> gpt(ModelSpec s) {
        if (s.inputShape().length != 1 || s.inputShape()[0] < 1) {
            throw new IllegalArgumentException("gpt expects an input shape [context] (tokens per sequence), got "
                    + Arrays.toString(s.inputShape()));
        }
        if (s.classes() < 2) {
            throw new IllegalArgumentException("gpt needs a vocabulary of at least 2 tokens, got " + s.classes());
        }
        Map<String, Integer> defaults = MODELS.get("gpt").optionDefaults;
        int width = s.option("width", defaults.get("width"));
        int depth = s.option("depth", defaults.get("depth"));
        int heads = s.option("heads", defaults.get("heads"));
        if (width < 1 || depth < 1 || heads < 1 || width % heads != 0) {
            throw new IllegalArgumentException("gpt needs width, depth, heads >= 1 with width divisible by heads, got width "
                    + width + ", depth " + depth + ", heads " + heads);
        }
        List<Layer> layers = new ArrayList<>();
        layers.add(new Embedding(s.classes(), (int) s.inputShape()[0], width));
        for (int i = 0; i < depth; i++) {
            layers.add(new TransformerBlock(width, heads, depth));
        }
        layers.add(new LayerNorm(width));
        layers.add(new Dense(width, s.classes(), 0.02));
        return layers;
    }

    /** All layers of the named model, validated against its input shape. */
    public static List<Layer> layers(ModelSpec spec) {
        Entry e = entry(spec);
        for (String key : spec.options().keySet()) {
            if (!e.optionDefaults.containsKey(key)) {
                throw new IllegalArgumentException("model option '" + key + "' is not one of "
                        + new TreeSet<>(e.optionDefaults.keySet()) + " for " + spec.name());
            }
        }
        return e.layers.apply(spec);
    }

    private static Entry entry(ModelSpec spec) {
        Entry e = MODELS.get(spec.name());
        if (e == null) {
            throw new IllegalArgumentException("unknown model '" + spec.name() + "'; known models: " + names());
        }
        return e;
    }

    /**
     * How many layers the cut a spec selects puts on the client, validated: the cut is in
     * 1..(layers - leading - trailing), e.g. 1..depth blocks for the GPT.
     */
    public static int cut(ModelSpec spec) {
        Entry e = entry(spec);
        List<Layer> layers = layers(spec);
        int max = layers.size() - e.leading - e.trailing;
        int cut = spec.cut() == 0 ? e.defaultCut : spec.cut();
        if (cut < 1 || cut > max) {
            throw new IllegalArgumentException("model.cut = " + spec.cut() + " is outside 1.." + max + " for "
                    + spec.name() + " (layers: " + describe(layers) + (e.leading > 0 ? "; counted after the first "
                    + e.leading + ")" : ")"));
        }
        return e.leading + cut;
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
        // The full network draws its layers' values in order from one stream: the client's layers, then
        // the server's. Drawing them the same way on the two parts gives the same parameters without
        // building the full network as well.
        Random rng = new Random(seed);
        client.initialize(rng);
        server.initialize(rng);
        return new SplitModel(client, server);
    }

    /** Per-sample shape of the activations at the spec's cut (no parameters are allocated). */
    public static long[] cutShape(ModelSpec spec) {
        List<Layer> layers = layers(spec);
        int cut = cut(spec);
        long[] shape = spec.inputShape();
        for (Layer layer : layers.subList(0, cut)) {
            shape = layer.outputShape(shape);
        }
        return shape;
    }

    /**
     * Auxiliary model kinds: {@code linear} (one dense layer), {@code mlp} (dense, ReLU, dense) and,
     * for language models only, {@code block} (one transformer block, final norm, head).
     */
    public static final List<String> AUXILIARY = List.of("linear", "mlp", "block");

    /**
     * An auxiliary model a_i from the cut activations of {@code spec} to its outputs, seeded
     * independently of the main model. For an image model it maps the flattened activations to
     * class scores (for the ResNets, as the reference's ResNet heads, the globally average-pooled
     * activations: one value per channel); for a language model it works token by token on [time, width] (a block also
     * mixes positions, causally) and gives next-token logits [time, vocab], like the server part.
     */
    public static Network auxiliary(ModelSpec spec, String kind, int hidden, long seed) {
        return auxiliary(spec, kind, hidden, seed, DataType.FLOAT);
    }

    /** As {@link #auxiliary(ModelSpec, String, int, long)} in another precision (the alignment gradient's, DOUBLE). */
    public static Network auxiliary(ModelSpec spec, String kind, int hidden, long seed, DataType dataType) {
        long[] cut = cutShape(spec);
        boolean sequence = cut.length == 2;
        boolean pooled = entry(spec).pooledAuxiliary;
        int in = (int) (sequence || pooled ? cut[sequence ? 1 : 0] : Arrays.stream(cut).reduce(1, (a, b) -> a * b));
        List<Layer> head = new ArrayList<>(sequence ? List.of() : List.of(pooled ? new GlobalAvgPool() : new Flatten()));
        switch (kind) {
            case "linear" -> head.add(new Dense(in, spec.classes()));
            case "mlp" -> head.addAll(List.of(new Dense(in, hidden), new Relu(), new Dense(hidden, spec.classes())));
            case "block" -> {
                if (!sequence) {
                    throw new IllegalArgumentException("auxiliary model 'block' is for language models; " + spec.name()
                            + " takes 'linear' or 'mlp'");
                }
                int heads = spec.option("heads", MODELS.get("gpt").optionDefaults.get("heads"));
                head.addAll(List.of(new TransformerBlock(in, heads, 1), new LayerNorm(in), new Dense(in, spec.classes(), 0.02)));
            }
            default -> throw new IllegalArgumentException("unknown auxiliary model '" + kind + "'; known: " + AUXILIARY);
        }
        return new Network(head, cut, dataType).initialize(new Random(seed ^ 0x5A6EL));
    }
}
