package org.fslspark.model;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.commons.io.IOUtils;
import org.fslspark.text.ByteTokenizer;
import org.fslspark.text.HfTokenizer;
import org.fslspark.text.Tokenizer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A trained model that loads without its experiment: a directory (any Hadoop URI) holding
 * {@code model.json} (the model spec, the tokenizer, the parameter count, where it came from),
 * {@code params.f32} (the unsplit model's flat vector, client part then server part, as
 * little-endian float32: {@code numpy.fromfile(f, '<f4')} reads it) and, for a Hugging Face
 * tokenizer, a copy of its {@code tokenizer.json}, so the checkpoint outlives the original file.
 *
 * @param tokenizer {@code byte}, the JSON of a Hugging Face tokenizer, or null for an image model
 * @param params    [1, n] float
 * @param origin    free-form provenance (experiment, algorithm, rounds, LoRA merged in), written as is
 */
public record Checkpoint(ModelSpec spec, String tokenizer, INDArray params, Map<String, Object> origin) {
    public static final String SPEC = "model.json";
    public static final String PARAMS = "params.f32";
    public static final String TOKENIZER = "tokenizer.json";
    private static final int FORMAT = 1;

    /** A tokenizer as a checkpoint keeps it: {@code byte} or the tokenizer.json's contents. */
    public static String tokenizerOf(Tokenizer t) {
        if (t instanceof HfTokenizer hf) {
            return hf.json();
        }
        return "byte";
    }

    public boolean isLanguageModel() {
        return tokenizer != null;
    }

    /** The checkpoint's tokenizer; refused for an image model. */
    public Tokenizer loadTokenizer() {
        if (!isLanguageModel()) {
            throw new IllegalArgumentException("the checkpoint holds " + spec.name() + ", an image model, not a language model");
        }
        return tokenizer.equals("byte") ? new ByteTokenizer() : HfTokenizer.parse(tokenizer, TOKENIZER + " of the checkpoint");
    }

    /** The unsplit network with the checkpoint's parameters. */
    public Network network() {
        Network net = new Network(ModelZoo.layers(spec), spec.inputShape());
        net.setParams(params);
        return net;
    }

    public void write(String dir, Configuration conf) throws IOException {
        Path d = new Path(dir);
        FileSystem fs = d.getFileSystem(conf);
        JsonObject json = new JsonObject();
        json.addProperty("format", FORMAT);
        json.addProperty("name", spec.name());
        if (spec.name().equals("gpt")) {
            json.addProperty("vocabulary", spec.classes());
            json.addProperty("context", spec.inputShape()[0]);
            spec.options().forEach(json::addProperty);
        } else {
            json.add("input_shape", new Gson().toJsonTree(spec.inputShape()));
            json.addProperty("classes", spec.classes());
            spec.options().forEach(json::addProperty); // a ResNet's width when not its default
        }
        json.addProperty("cut", spec.cut());
        if (isLanguageModel()) {
            json.addProperty("tokenizer", tokenizer.equals("byte") ? "byte" : TOKENIZER);
            if (!tokenizer.equals("byte")) {
                write(fs, new Path(d, TOKENIZER), tokenizer.getBytes(StandardCharsets.UTF_8));
            }
        }
        json.addProperty("parameters", params.length());
        json.addProperty("dtype", "float32, little-endian");
        json.add("origin", new Gson().toJsonTree(origin));
        float[] values = params.data().asFloat();
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        write(fs, new Path(d, PARAMS), bytes.array());
        // The spec last: a directory with a model.json is complete.
        write(fs, new Path(d, SPEC), new GsonBuilder().setPrettyPrinting().create().toJson(json).getBytes(StandardCharsets.UTF_8));
    }

    private static void write(FileSystem fs, Path p, byte[] bytes) throws IOException {
        org.fslspark.metrics.HadoopFiles.write(fs, p, bytes);
    }

    /** Reads the checkpoint in {@code dir}; a missing or incomplete directory is refused with what is missing. */
    public static Checkpoint read(String dir, Configuration conf) {
        Path d = new Path(dir);
        try {
            FileSystem fs = d.getFileSystem(conf);
            if (!fs.exists(d)) {
                throw new IllegalArgumentException("checkpoint " + dir + " does not exist");
            }
            if (!fs.exists(new Path(d, SPEC))) {
                throw new IllegalArgumentException(dir + " is not a checkpoint: it has no " + SPEC
                        + " (a training run writes one to <output>/model)");
            }
            JsonObject json = JsonParser.parseString(new String(read(fs, new Path(d, SPEC)), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            ModelSpec spec = spec(json);
            String tokenizer = null;
            if (json.has("tokenizer")) {
                String t = json.get("tokenizer").getAsString();
                tokenizer = t.equals("byte") ? t : new String(read(fs, new Path(d, t)), StandardCharsets.UTF_8);
            }
            long n = json.get("parameters").getAsLong();
            byte[] raw = read(fs, new Path(d, PARAMS));
            if (raw.length != n * 4) {
                throw new IllegalArgumentException("checkpoint " + dir + ": " + PARAMS + " holds " + raw.length
                        + " bytes, expected " + n + " float32 values");
            }
            float[] values = new float[(int) n];
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            INDArray params = Nd4j.create(values, new long[]{1, n}, 'c');
            long expected = ModelZoo.layers(spec).stream().mapToLong(Layer::numParams).sum();
            if (expected != n) {
                throw new IllegalArgumentException("checkpoint " + dir + " has " + n + " parameters but its spec " + spec
                        + " needs " + expected);
            }
            Map<String, Object> origin = json.has("origin")
                    ? new Gson().fromJson(json.get("origin"), Map.class) : Map.of();
            return new Checkpoint(spec, tokenizer, params, origin);
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (IOException | RuntimeException e) { // unreadable files, malformed or incomplete JSON
            throw new IllegalArgumentException("cannot read checkpoint " + dir + ": " + e, e);
        }
    }

    private static ModelSpec spec(JsonObject json) {
        String name = json.get("name").getAsString();
        int cut = json.get("cut").getAsInt();
        if (name.equals("gpt")) {
            return ModelSpec.gpt(json.get("vocabulary").getAsInt(), json.get("context").getAsInt(),
                    json.get("width").getAsInt(), json.get("depth").getAsInt(), json.get("heads").getAsInt(), cut);
        }
        Map<String, Integer> options = json.has("width") ? Map.of("width", json.get("width").getAsInt()) : Map.of();
        return new ModelSpec(name, new Gson().fromJson(json.get("input_shape"), long[].class), json.get("classes").getAsInt(),
                cut, options);
    }

    private static byte[] read(FileSystem fs, Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return IOUtils.toByteArray(in);
        }
    }

    /**
     * Why this checkpoint cannot start a run of {@code spec} with the tokenizer {@code tokenizer}
     * (as {@link #tokenizerOf}), or null if it can: the architecture (name, sizes, vocabulary,
     * context) and the tokenizer must be the same; the cut may differ, it only splits the vector.
     */
    public String mismatch(ModelSpec spec, String tokenizer) {
        ModelSpec mine = new ModelSpec(this.spec.name(), this.spec.inputShape(), this.spec.classes(), 0, this.spec.options());
        ModelSpec theirs = new ModelSpec(spec.name(), spec.inputShape(), spec.classes(), 0, spec.options());
        if (!mine.equals(theirs)) {
            return "the checkpoint holds " + describe(this.spec) + " but the experiment's model is " + describe(spec);
        }
        if (tokenizer != null && !tokenizer.equals(this.tokenizer)) {
            return "the checkpoint's tokenizer (" + (this.tokenizer.equals("byte") ? "byte" : "a tokenizer.json")
                    + ") differs from data.tokenizer's";
        }
        return null;
    }

    private static String describe(ModelSpec s) {
        if (!s.name().equals("gpt")) {
            return s.name() + java.util.Arrays.toString(s.inputShape()) + " with " + s.classes() + " classes"
                    + (s.options().isEmpty() ? "" : " " + s.options());
        }
        Map<String, Object> m = new LinkedHashMap<>(s.options());
        m.put("context", s.inputShape()[0]);
        m.put("vocabulary", s.classes());
        return "gpt " + m;
    }
}
