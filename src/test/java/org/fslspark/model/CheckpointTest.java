package org.fslspark.model;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checkpoints: written through Hadoop, read back without the experiment, LoRA merged on the way. */
class CheckpointTest {
    private static final ModelSpec TINY = ModelSpec.gpt(257, 8, 16, 2, 2, 1);
    private static final Configuration CONF = new Configuration();
    @TempDir
    Path dir;

    private static INDArray tokens() {
        return Nd4j.createFromArray(new float[][]{{72, 101, 108, 108, 111, 32, 256, 0}, {1, 2, 3, 4, 5, 6, 7, 8}});
    }

    @Test
    void aSavedModelLoadsBackWithTheSameSpecAndLogits() throws Exception {
        Network net = ModelZoo.full(TINY, 3);
        String location = "file://" + dir.resolve("model");
        new Checkpoint(TINY, "byte", net.params(), Map.of("experiment", "test")).write(location, CONF);
        assertTrue(Files.readString(dir.resolve("model/model.json")).contains("\"width\": 16"));
        assertEquals(net.numParams() * 4, Files.size(dir.resolve("model/params.f32")));

        Checkpoint c = Checkpoint.read(location, CONF);
        assertEquals(TINY, c.spec());
        assertEquals("byte", c.tokenizer());
        assertEquals("test", c.origin().get("experiment"));
        assertEquals(net.forward(tokens()), c.network().forward(tokens()));
    }

    @Test
    void aNarrowResNetKeepsItsWidthAndIsToldApartFromTheDefault() throws Exception {
        ModelSpec narrow = new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 2, Map.of("width", 4));
        String location = "file://" + dir.resolve("resnet");
        new Checkpoint(narrow, null, ModelZoo.full(narrow, 3).params(), Map.of()).write(location, CONF);
        Checkpoint c = Checkpoint.read(location, CONF);
        assertEquals(narrow, c.spec());
        String m = c.mismatch(new ModelSpec("resnet20", new long[]{1, 8, 8}, 4, 1), null);
        assertTrue(m != null && m.contains("width=4"), m);
    }

    @Test
    void aMergedLoraCheckpointComputesWhatBasePlusAdaptersCompute() throws Exception {
        Network base = ModelZoo.full(TINY, 3);
        String basePath = dir.resolve("base").toString();
        new Checkpoint(TINY, "byte", base.params(), Map.of()).write(basePath, CONF);
        ModelInit init = new ModelInit(basePath, new Lora(4, 8, List.of("query", "value", "mlp-out")));
        SplitModel adapted = init.initial(TINY, 5, CONF);
        // trained adapters: anything but B = 0
        adapted.setFullParams(FiniteDifferences.random(6, 1, adapted.fullParams().length()).muli(0.2).castTo(DataType.FLOAT));
        INDArray expected = adapted.server().forward(adapted.client().forward(tokens()));

        String merged = dir.resolve("merged").toString();
        new Checkpoint(TINY, "byte", init.merged(TINY, adapted.fullParams(), CONF), Map.of()).write(merged, CONF);
        INDArray logits = Checkpoint.read(merged, CONF).network().forward(tokens());
        assertTrue(expected.equalsWithEps(logits, 1e-4), "merged logits differ");
        assertTrue(!expected.equalsWithEps(base.forward(tokens()), 1e-2), "the adapters changed nothing");
    }

    @Test
    void fullFineTuningStartsFromTheCheckpointsParameters() throws Exception {
        Network trained = ModelZoo.full(TINY, 3);
        String location = dir.resolve("trained").toString();
        new Checkpoint(TINY, "byte", trained.params(), Map.of()).write(location, CONF);
        ModelSpec otherCut = ModelSpec.gpt(257, 8, 16, 2, 2, 2);
        SplitModel start = new ModelInit(location, Lora.OFF).initial(otherCut, 99, CONF);
        assertEquals(trained.params(), start.fullParams());
        assertEquals(2 * 16 + 16 * 257 + 257, start.server().numParams(), "cut after block 2: the final norm and head serve");
    }

    @Test
    void missingOrMismatchedCheckpointsAreRefusedClearly() throws Exception {
        String absent = dir.resolve("absent").toString();
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> Checkpoint.read(absent, CONF));
        assertTrue(x.getMessage().contains("does not exist"), x.getMessage());
        Files.createDirectories(dir.resolve("empty"));
        x = assertThrows(IllegalArgumentException.class, () -> Checkpoint.read(dir.resolve("empty").toString(), CONF));
        assertTrue(x.getMessage().contains("has no model.json"), x.getMessage());

        Checkpoint c = new Checkpoint(TINY, "byte", ModelZoo.full(TINY, 3).params(), Map.of());
        assertNull(c.mismatch(ModelSpec.gpt(257, 8, 16, 2, 2, 2), "byte"), "another cut is fine");
        String wider = c.mismatch(ModelSpec.gpt(257, 8, 32, 2, 2, 1), "byte");
        assertTrue(wider.contains("width=16") && wider.contains("width=32"), wider);
        assertTrue(c.mismatch(TINY, "{\"model\": {}}").contains("tokenizer"));
    }
}
