package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.ConfigException;
import org.fslspark.config.Experiment;
import org.fslspark.data.SyntheticText;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.SplitModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pre-train a tiny GPT for one round, then fine-tune it with LoRA in local[*]: only the adapters
 * travel (traffic.csv's model rows equal the adapter count x 4 bytes), the saved checkpoint has
 * them merged, and a checkpoint that does not fit the experiment is refused.
 */
@Tag("e2e")
class LoraEndToEndTest {
    /** Width 32, query and value adapters of rank 2 in each of the two blocks (one per side). */
    static final long ADAPTERS_PER_BLOCK = 2 * 2 * (32 + 32);
    static SparkSession spark;
    @TempDir
    static Path dir;
    static String base;

    static Experiment experiment(String... more) {
        return TextEndToEndTest.experiment(dir, more);
    }

    @BeforeAll
    static void pretrain() throws Exception {
        SyntheticText.writeFiles(dir.resolve("corpus"), SyntheticText.documents(40, 16, 2, 11));
        spark = Fixtures.spark();
        PrepareJob.run(experiment(), true, System.out);
        Path out = dir.resolve("pre");
        FederatedTraining.run(experiment("train.rounds=1", "output=\"" + out + "\""), spark, true, r -> { });
        base = out.resolve("model").toString();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static String[] lora(String... more) {
        List<String> o = new java.util.ArrayList<>(List.of("model.init=\"" + base + "\"", "model.lora.rank=2",
                "model.lora.alpha=4", "model.lora.projections=[query, value]", "train.rounds=1"));
        o.addAll(List.of(more));
        return o.toArray(String[]::new);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedavg", "splitfed-v2", "fsl-sage"})
    void onlyAdaptersTravelAndTheSavedModelHasThemMerged(String algorithm) throws Exception {
        Path out = dir.resolve("lora-" + algorithm);
        Experiment e = experiment(lora("algorithm=" + algorithm, "output=\"" + out + "\"", "auxiliary.model=block",
                "server-interval=2", "alignment.epochs=2"));
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> { });
        RoundRecord round = s.last();

        long adapterBytes = 4 * ADAPTERS_PER_BLOCK;
        long perClient = algorithm.equals("fedavg") ? 2 * adapterBytes : adapterBytes; // FedAvg sends x_c and x_s
        assertEquals(adapterBytes, s.clientParams().length() * 4);
        assertEquals(adapterBytes, s.serverParams().length() * 4);
        // FSL-SAGE's uploads add the auxiliary head (trained whole) to the client's model message.
        if (!algorithm.equals("fsl-sage")) {
            List<String> lines = Files.readAllLines(out.resolve("traffic.csv"));
            long modelRows = 0;
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.split(",");
                if (f[5].equals("model")) {
                    assertEquals(perClient, Long.parseLong(f[6]), line);
                    modelRows++;
                }
            }
            assertEquals(2 * e.institutes().size(), modelRows, "a model down and up per institute");
        }
        if (algorithm.equals("fedavg")) {
            assertEquals(e.institutes().size() * perClient, round.payloadBytesUp());
        }
        assertSavedModelIsMerged(e, out, s);
    }

    /** The run's checkpoint is the base with the adapters merged: the adapted model's logits, not the base's. */
    private static void assertSavedModelIsMerged(Experiment e, Path out, FederatedTraining.Summary s) {
        Checkpoint saved = Checkpoint.read(out.resolve("model").toString(), new Configuration());
        assertEquals(e.model(), saved.spec());
        assertEquals(base, saved.origin().get("init"));
        SplitModel adapted = e.init().split(e.model(), e.seed(), new Configuration());
        adapted.client().setParams(s.clientParams());
        adapted.server().setParams(s.serverParams());
        INDArray x = Nd4j.createFromArray(new float[][]{{76, 111, 114, 101, 109, 32, 105, 112}});
        INDArray expected = adapted.server().forward(adapted.client().forward(x));
        assertTrue(expected.equalsWithEps(saved.network().forward(x), 1e-4), "merged checkpoint's logits differ");
        INDArray baseLogits = Checkpoint.read(base, new Configuration()).network().forward(x);
        assertTrue(!expected.equalsWithEps(baseLogits, 1e-3), "fine-tuning changed nothing");
    }

    @Test
    void aCheckpointOfAnotherModelOrNoCheckpointIsRefused() {
        ConfigException wider = assertThrows(ConfigException.class, () -> FederatedTraining.run(
                experiment(lora("model.width=48", "model.heads=2", "output=\"" + dir.resolve("wider") + "\"")), spark, true, r -> { }));
        assertTrue(wider.getMessage().contains("model.init") && wider.getMessage().contains("width=32"), wider.getMessage());
        assertTrue(!Files.exists(dir.resolve("wider")), "nothing is written before the check");
        ConfigException missing = assertThrows(ConfigException.class, () -> FederatedTraining.run(
                experiment(lora("model.init=\"" + dir.resolve("nowhere") + "\"", "output=\"" + dir.resolve("x") + "\"")),
                spark, true, r -> { }));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        ConfigException noInit = assertThrows(ConfigException.class, () -> experiment(lora("model.init=\"\"")));
        assertTrue(noInit.getMessage().contains("needs model.init"), noInit.getMessage());
        ConfigException unknown = assertThrows(ConfigException.class, () -> experiment(lora("model.lora.projections=[query, qkv]")));
        assertTrue(unknown.getMessage().contains("[qkv] not among"), unknown.getMessage());
        ConfigException alpha = assertThrows(ConfigException.class, () -> experiment(lora("model.lora.alpha=0")));
        assertTrue(alpha.getMessage().contains("model.lora.alpha must be > 0"), alpha.getMessage());
    }
}
