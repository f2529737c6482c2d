package org.fslspark.runtime;

import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.data.PlacementException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each institute's partition is read by that institute's client task only. */
class PlacementTest {
    static SparkSession spark;
    @TempDir
    static java.nio.file.Path dir;
    static Experiment experiment;

    @BeforeAll
    static void start() {
        spark = Sparks.session(org.fslspark.config.ExperimentLoader.load(null, List.of("spark.master=local[5]",
                "spark.conf { \"spark.hadoop.fs.audit.impl\" = \"" + AuditFileSystem.class.getName() + "\" }")));
        experiment = Fixtures.experiment(dir, "institutes=[osu, umich, iitb]", "data.train-subset=300",
                "train.rounds=1", "train.batch-size=50", "data.partition.scheme=iid");
        Fixtures.prepare(experiment);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void aClientTaskRefusesAnotherInstitutesPartition() {
        List<String> swapped = List.of(experiment.data().locationOf("iitb"), experiment.data().locationOf("umich"),
                experiment.data().locationOf("osu"));
        RoundPlan plan = new RoundPlan("swap", 0, "splitfed-v2", experiment.settings(), experiment.model(), experiment.init(),
                experiment.train().optimizer(), experiment.train().serverOptimizer(), 50, 1, 1, experiment.institutes(),
                swapped, "osu", experiment.train().serverOrder(), Map.of(), new float[1], new float[1], Map.of(), TestbedPlan.NONE, Map.of(), false, "");
        SparkException e = assertThrows(SparkException.class,
                () -> SyncRound.run(JavaSparkContext.fromSparkContext(spark.sparkContext()), plan, SiteExecutors.NONE));
        assertTrue(e.getMessage().contains("placement violation: a task serving 'osu' was given the partition of 'iitb'")
                || e.getMessage().contains("placement violation: a task serving 'iitb' was given the partition of 'osu'"),
                e.getMessage());
        PlacementException direct = assertThrows(PlacementException.class,
                () -> SiteData.read(Map.of(), experiment.data().locationOf("umich"), "osu"));
        assertTrue(direct.getMessage().contains("'umich'"), direct.getMessage());
    }

    @Test
    void serverTasksAndTheDriverReadNoTrainingFile() {
        String root = dir.resolve("data").toString();
        for (String algorithm : List.of("splitfed-v1", "fedavg")) {
            AuditFileSystem.OPENS.clear();
            Experiment e = Fixtures.experiment(dir, "institutes=[osu, umich, iitb]", "data.train-subset=300",
                    "train.rounds=1", "train.batch-size=50", "data.partition.scheme=iid", "algorithm=" + algorithm,
                    "data.location=\"audit://" + root + "\"", "output=\"" + dir.resolve("out-" + algorithm) + "\"");
            FederatedTraining.run(e, spark, true, r -> { });
            List<AuditFileSystem.Open> dataOpens = AuditFileSystem.OPENS.stream()
                    .filter(o -> o.path().endsWith(".parquet")).toList();
            for (int i = 0; i < e.institutes().size(); i++) {
                String own = root + "/" + e.institutes().get(i) + "/";
                int client = i;
                assertTrue(dataOpens.stream().anyMatch(o -> o.path().startsWith(own) && o.partition() == client),
                        algorithm + ": client " + client + " never read its partition: " + dataOpens);
                assertTrue(dataOpens.stream().filter(o -> o.path().startsWith(own)).allMatch(o -> o.partition() == client),
                        algorithm + ": " + own + " was opened by another task or the driver: " + dataOpens);
            }
            // The driver reads only the test set; no task, server or client, reads it.
            List<AuditFileSystem.Open> test = dataOpens.stream().filter(o -> o.path().startsWith(root + "/_test/")).toList();
            assertFalse(test.isEmpty());
            assertTrue(test.stream().allMatch(o -> o.partition() == -1), test.toString());
            assertEquals(dataOpens.size(), test.size() + dataOpens.stream()
                    .filter(o -> !o.path().startsWith(root + "/_test/") && o.partition() >= 0
                            && o.partition() < e.institutes().size()).count(), dataOpens.toString());
        }
    }
}
