package org.fslspark.cli;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.Generator;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `fsl generate`: seeded sampling from a checkpoint, and its errors. */
class GenerateCommandTest {
    @TempDir
    static Path dir;
    static String byteModel;

    @BeforeAll
    static void checkpoints() throws Exception {
        byteModel = dir.resolve("gpt").toString();
        ModelSpec spec = ModelSpec.gpt(257, 8, 16, 1, 2, 1);
        new Checkpoint(spec, "byte", ModelZoo.full(spec, 3).params(), Map.of()).write(byteModel, new Configuration());
        ModelSpec cnn = new ModelSpec("fmnist_cnn", new long[]{1, 28, 28}, 10, 0);
        new Checkpoint(cnn, null, ModelZoo.full(cnn, 3).params(), Map.of()).write(dir.resolve("cnn").toString(), new Configuration());
        // A word-level tokenizer that knows two words, and [UNK] for everything else.
        String words = "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
                + "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"hello\":0,\"world\":1,"
                + "\"[UNK]\":2},\"unk_token\":\"[UNK]\"}}";
        ModelSpec small = ModelSpec.gpt(3, 8, 16, 1, 2, 1);
        new Checkpoint(small, words, ModelZoo.full(small, 3).params(), Map.of()).write(dir.resolve("words").toString(),
                new Configuration());
    }

    /** {exit code, stdout, stderr} of {@code fsl ARGS}. */
    private static String[] run(String... args) {
        Cli.Result r = Cli.run(args);
        return new String[]{String.valueOf(r.code()), r.out(), r.err()};
    }

    @Test
    void theSameSeedGivesTheSameTextAndAnotherSeedOtherText() {
        String[] a = run("generate", byteModel, "--prompt", "Hi", "--tokens", "20", "--seed", "7", "--temperature", "1.5", "--top-k", "0");
        String[] b = run("generate", byteModel, "--prompt", "Hi", "--tokens", "20", "--seed", "7", "--temperature", "1.5", "--top-k", "0");
        String[] c = run("generate", byteModel, "--prompt", "Hi", "--tokens", "20", "--seed", "8", "--temperature", "1.5", "--top-k", "0");
        assertEquals("0", a[0], a[2]);
        assertTrue(a[1].startsWith("Hi"), a[1]);
        assertEquals(a[1], b[1]);
        assertNotEquals(a[1], c[1]);
    }

    @Test
    void theContextWindowSlidesAndGreedyDecodingIsDeterministic() {
        Generator g = new Generator(Checkpoint.read(byteModel, new Configuration()));
        int[] prompt = g.encode("a prompt longer than the context of 8");
        int[] out = g.sample(prompt, 30, 0, 0, new java.util.Random(1));
        assertTrue(out.length > prompt.length, "nothing generated");
        assertEquals(java.util.Arrays.toString(out), java.util.Arrays.toString(g.sample(prompt, 30, 0, 0, new java.util.Random(2))));

        // The generator pads a short window to the context; the next token is still the unpadded model's.
        int[] shortPrompt = g.encode("Hi!");
        org.nd4j.linalg.api.ndarray.INDArray logits = Checkpoint.read(byteModel, new Configuration()).network()
                .forward(org.nd4j.linalg.factory.Nd4j.createFromArray(new float[][]{{'H', 'i', '!'}}));
        int expected = logits.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0), org.nd4j.linalg.indexing.NDArrayIndex.point(2),
                org.nd4j.linalg.indexing.NDArrayIndex.all()).argMax().getInt(0);
        assertEquals(expected, g.sample(shortPrompt, 1, 0, 0, new java.util.Random(1))[3]);
    }

    @Test
    void topKOfOneIsGreedyWhateverTheTemperatureAndSeedAndEqualsArgmaxDecoding() {
        String[] a = run("generate", byteModel, "--prompt", "Hi", "--tokens", "6", "--top-k", "1", "--temperature", "1.5", "--seed", "7");
        String[] b = run("generate", byteModel, "--prompt", "Hi", "--tokens", "6", "--top-k", "1", "--temperature", "1.5", "--seed", "8");
        assertEquals("0", a[0], a[2]);
        assertEquals(a[1], b[1]);
        // Argmax decoding, independently of the Generator: the unpadded sequence through the network, the most
        // likely next byte each step (prompt + 6 tokens fit the context of 8, so nothing slides).
        org.fslspark.model.Network net = Checkpoint.read(byteModel, new Configuration()).network();
        java.util.List<Integer> ids = new java.util.ArrayList<>(java.util.List.of((int) 'H', (int) 'i'));
        for (int step = 0; step < 6 && ids.get(ids.size() - 1) != 256; step++) {
            float[][] x = {new float[ids.size()]};
            for (int i = 0; i < ids.size(); i++) {
                x[0][i] = ids.get(i);
            }
            org.nd4j.linalg.api.ndarray.INDArray logits = net.forward(org.nd4j.linalg.factory.Nd4j.createFromArray(x));
            ids.add(logits.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                    org.nd4j.linalg.indexing.NDArrayIndex.point(ids.size() - 1), org.nd4j.linalg.indexing.NDArrayIndex.all())
                    .argMax().getInt(0));
        }
        String greedy = new org.fslspark.text.ByteTokenizer().decode(ids.stream().mapToInt(Integer::intValue).toArray());
        assertEquals(greedy + System.lineSeparator(), a[1]);
        // Sampling among more than one token does depend on the seed (so the equality above is top-k's doing).
        assertNotEquals(run("generate", byteModel, "--prompt", "Hi", "--tokens", "6", "--top-k", "0", "--temperature", "1.5",
                "--seed", "7")[1], run("generate", byteModel, "--prompt", "Hi", "--tokens", "6", "--top-k", "0",
                "--temperature", "1.5", "--seed", "8")[1]);
    }

    @Test
    void errorsNameTheProblem() {
        String[] missing = run("generate", dir.resolve("nothing").toString(), "--prompt", "x");
        assertEquals("2", missing[0]);
        assertTrue(missing[2].contains("does not exist"), missing[2]);
        String[] image = run("generate", dir.resolve("cnn").toString(), "--prompt", "x");
        assertTrue(image[2].contains("image model, not a language model"), image[2]);
        String[] unknown = run("generate", dir.resolve("words").toString(), "--prompt", "hello there");
        assertTrue(unknown[2].contains("characters the model's tokenizer does not know"), unknown[2]);
        String[] known = run("generate", dir.resolve("words").toString(), "--prompt", "hello world", "--tokens", "3");
        assertEquals("0", known[0], known[2]);
        assertTrue(known[1].startsWith("hello world"), known[1]);
        String[] bad = run("generate", byteModel, "--temperature", "-1");
        assertTrue(bad[2].contains("--temperature >= 0"), bad[2]);
    }
}
