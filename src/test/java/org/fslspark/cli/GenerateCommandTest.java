package org.fslspark.cli;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.Generator;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
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

    private static String[] run(String... args) {
        StringWriter err = new StringWriter();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        int code;
        try {
            System.setOut(new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
            code = Main.commandLine().setErr(new PrintWriter(err, true)).execute(args);
        } finally {
            System.setOut(old);
        }
        return new String[]{String.valueOf(code), out.toString(java.nio.charset.StandardCharsets.UTF_8), err.toString()};
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
