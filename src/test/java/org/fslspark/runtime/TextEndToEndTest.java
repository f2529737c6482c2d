package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.SyntheticText;
import org.fslspark.metrics.RoundRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two institutes hold synthetic text (by document: each holds different kinds); a tiny byte-level GPT
 * (width 32, 2 blocks, cut after block 1, context 32) trains three rounds with each per-batch algorithm and
 * FedAvg in local[*], and its held-out token loss ends clearly below the first round's.
 */
@Tag("e2e")
class TextEndToEndTest {
    static final double MARGIN = 0.25;
    static SparkSession spark;
    @TempDir
    static Path dir;

    static Experiment experiment(String... more) {
        return experiment(dir, more);
    }

    /** The tiny GPT on synthetic text, its corpus, data and output under {@code dir}. */
    static Experiment experiment(Path dir, String... more) {
        List<String> o = new ArrayList<>(List.of("experiment=text-e2e", "data.dataset=synthetic", "data.format=text", "model.name=gpt",
                "data.train=[\"" + dir.resolve("corpus") + "\"]", "data.test=[]", "data.tokenizer=byte",
                "data.context=32", "data.test-fraction=0.15", "data.partition.scheme=document",
                "model.width=32", "model.depth=2", "model.heads=2", "model.cut=1",
                "institutes=[osu, iitb]", "server-site=osu", "train.rounds=3", "train.batch-size=16",
                "train.optimizer={name=adam, learning-rate=0.003}", "train.server-optimizer={name=adam, learning-rate=0.003}",
                "train.eval-batch-size=64", "data.location=\"" + dir.resolve("data") + "\"", "seed=3"));
        o.addAll(List.of(more));
        return ExperimentLoader.load(null, o);
    }

    @BeforeAll
    static void start() throws Exception {
        SyntheticText.writeFiles(dir.resolve("corpus"), SyntheticText.documents(40, 16, 2, 11));
        spark = Fixtures.spark();
        PrepareJob.run(experiment(), true, System.out);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedavg", "sl", "splitfed-v1", "splitfed-v2", "cse-fsl", "fsl-sage"})
    void aTinyGptLearnsSyntheticTextWithEachAlgorithm(String algorithm) {
        Path out = dir.resolve("out-" + algorithm);
        // The auxiliary algorithms use the language models' block head; q = 2 so that the server part sees enough.
        Experiment e = experiment("algorithm=" + algorithm, "output=\"" + out + "\"", "auxiliary.model=block",
                "server-interval=2", "alignment.epochs=20");
        List<RoundRecord> rounds = FederatedTraining.run(e, spark, true, r -> System.out.println(algorithm + ": " + r)).rounds();
        assertEquals(3, rounds.size());
        RoundRecord first = rounds.get(0);
        RoundRecord last = rounds.get(2);
        assertTrue(first.testLoss() < Math.log(257), algorithm + ": round 0 did not learn at all: " + first);
        assertTrue(last.testLoss() < first.testLoss() - MARGIN,
                algorithm + ": held-out token loss " + first.testLoss() + " -> " + last.testLoss());
        assertEquals(Math.exp(last.testLoss()), last.testPerplexity(), 1e-9);
        assertTrue(last.testAccuracy() > first.testAccuracy(), algorithm + ": next-token accuracy did not rise");
        List<org.apache.spark.sql.Row> rows = spark.read().parquet(out.resolve("rounds.parquet").toString())
                .orderBy("round").collectAsList();
        assertEquals(last.testPerplexity(), rows.get(2).getDouble(rows.get(2).fieldIndex("test_perplexity")));
    }

    @org.junit.jupiter.api.Test
    void aClientTaskRefusesAnotherInstitutesTokenPartition() {
        Experiment e = experiment();
        List<String> swapped = List.of(e.data().locationOf("iitb"), e.data().locationOf("osu"));
        RoundPlan plan = new RoundPlan("swap-text", 0, "splitfed-v2", e.settings(), e.model(), e.init(), e.train().optimizer(),
                e.train().serverOptimizer(), 16, 1, 1, e.institutes(), swapped, "osu", e.train().serverOrder(), Map.of(),
                new float[1], new float[1], Map.of(), TestbedPlan.NONE, Map.of(), false, "");
        org.apache.spark.SparkException x = org.junit.jupiter.api.Assertions.assertThrows(org.apache.spark.SparkException.class,
                () -> SyncRound.run(org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext()), plan, SiteExecutors.NONE));
        assertTrue(x.getMessage().contains("placement violation: a task serving 'osu' was given the partition of 'iitb'")
                || x.getMessage().contains("placement violation: a task serving 'iitb' was given the partition of 'osu'"),
                x.getMessage());
    }
}
