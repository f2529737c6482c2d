package org.fslspark.runtime;

import org.apache.hadoop.yarn.api.records.FinalApplicationStatus;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.server.resourcemanager.rmapp.RMApp;
import org.apache.hadoop.yarn.server.resourcemanager.rmapp.RMAppState;
import org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * jobs/submit's YARN path against a real YARN (Hadoop's MiniYARNCluster: a ResourceManager and a
 * NodeManager in this JVM, executors and the application master in containers it launches), shared
 * the quickstart experiment, two rounds on a Fashion-MNIST subset, submitted in cluster mode with the
 * application jar the script builds (Spark provided). Client mode differs only in where Spark puts the
 * driver; JobsSubmitTest checks the command jobs/submit builds for both.
 */
@Tag("e2e")
class YarnSubmitTest {
    static final String[] SETUP = {"data.train-subset=2000", "train.rounds=2"};
    @TempDir
    static Path dir;
    static MiniYARNCluster yarn;
    static Path hadoopConf;

    @BeforeAll
    static void start() throws Exception {
        Fixtures.prepare(Fixtures.experiment(dir, SETUP));
        YarnConfiguration conf = new YarnConfiguration();
        conf.set(YarnConfiguration.RM_SCHEDULER, FifoScheduler.class.getName());
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
        // MiniYARNCluster gives its NodeManager this (default 4 GiB), whatever NM_PMEM_MB says: room for
        // an application master holding the driver and two executors of 1g + 1536m.
        conf.setInt(YarnConfiguration.YARN_MINICLUSTER_NM_PMEM_MB, 12288);
        conf.setInt(YarnConfiguration.NM_VCORES, 8);
        // A container may have a core per barrier task (five for the quickstart's four institutes and the server).
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_VCORES, 8);
        // ND4J's off-heap buffers would trip YARN's memory checks on this small machine.
        conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
        conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
        yarn = new MiniYARNCluster("fsl-submit", 1, 1, 1);
        yarn.init(conf);
        yarn.start();
        // start() may return before the ResourceManager has put its bound port into the config.
        for (int i = 0; i < 100 && yarn.getConfig().get(YarnConfiguration.RM_ADDRESS).endsWith(":0"); i++) {
            Thread.sleep(100);
        }
        hadoopConf = Files.createDirectories(dir.resolve("hadoop-conf"));
        for (String file : List.of("yarn-site.xml", "core-site.xml")) {
            try (OutputStream o = Files.newOutputStream(hadoopConf.resolve(file))) {
                yarn.getConfig().writeXml(o);
            }
        }
    }

    @AfterAll
    static void stop() {
        if (yarn != null) {
            yarn.stop();
        }
    }

    /**
     * Cluster mode: the driver runs in the application master's container. The experiment's config
     * is a file only this process's directory holds; jobs/submit ships it, and the run in the
     * container gives, round by round, what the same experiment gives in local mode. Client by
     * client, both runs do the same arithmetic in the same order, except where a sum's order may
     * differ (BLAS threading, the evaluation's partial sums): payload and wire bytes must be equal
     * exactly, test accuracy within one test image in 10,000 (1e-4), test loss within 1e-4 relative.
     * Two executors: without a topology nothing pins a client's tasks to one executor, so a client's
     * task may move between rounds and find its optimizer state (held in its executor's memory,
     * TaskState) missing; the round is then rerun from the driver's copy, and the rounds still equal
     * the local run's (before that rerun existed, round 1 differed here).
     */
    @Test
    void inClusterModeTheConfigShipsAndTheRoundsEqualALocalRun() throws Exception {
        Path config = Files.createDirectories(dir.resolve("submitter")).resolve("yarn-cluster.conf");
        Files.writeString(config, Files.readString(Path.of("conf/quickstart.conf")) + "\n"
                + "experiment = shipped-to-yarn\n"
                + "data.location = \"" + dir.resolve("data") + "\"\n"
                + "data.train-subset = 2000\ntrain.rounds = 2\ntrain.eval-batch-size = 500\n"
                + "train.server-order = client-by-client\n");
        Path out = dir.resolve("out-yarn-cluster");
        List<String> command = new ArrayList<>(submit("cluster", 2, 3));
        command.addAll(List.of("--conf", "spark.executor.memory=2g", "--conf", "spark.executor.memoryOverhead=2g",
                "--conf", "spark.driver.memory=1g", "--conf", "spark.driver.memoryOverhead=1g",
                "--", "train", config.toString(), "--out", out.toString(), "--overwrite"));
        Set<RMApp> before = new HashSet<>(yarn.getResourceManager().getRMContext().getRMApps().values());
        String output = run(command, "cluster");
        assertTrue(output.contains("submit: shipping " + config), output);
        assertSucceeded(before);
        assertTrue(Files.readString(out.resolve("config")).contains("shipped-to-yarn"), "the run read another config");

        Experiment local = ExperimentLoader.load(config.toFile(), List.of("output=\"" + dir.resolve("out-local") + "\"",
                "spark.master=\"local[5]\""));
        org.apache.spark.sql.SparkSession spark = Sparks.session(local);
        try {
            FederatedTraining.run(local, spark, true, r -> { });
        } finally {
            spark.stop(); // the next test class makes its own session with its own settings
        }
        List<String[]> onYarn = rows(out.resolve("rounds.csv"));
        List<String[]> inLocal = rows(dir.resolve("out-local/rounds.csv"));
        assertEquals(3, onYarn.size(), "a header and two rounds");
        assertEquals(List.of(inLocal.get(0)), List.of(onYarn.get(0)));
        List<String> header = List.of(onYarn.get(0));
        for (int r = 1; r < onYarn.size(); r++) {
            for (String exact : List.of("round", "payload_bytes_up", "payload_bytes_down", "label_bytes_up",
                    "cumulative_payload_bytes", "wire_bytes_up", "wire_bytes_down", "cumulative_wire_bytes")) {
                int c = header.indexOf(exact);
                assertEquals(inLocal.get(r)[c], onYarn.get(r)[c], exact + " of round " + r);
            }
            int acc = header.indexOf("test_accuracy");
            int loss = header.indexOf("test_loss");
            assertEquals(Double.parseDouble(inLocal.get(r)[acc]), Double.parseDouble(onYarn.get(r)[acc]), 1e-4,
                    "test accuracy of round " + r);
            double lossLocal = Double.parseDouble(inLocal.get(r)[loss]);
            assertEquals(lossLocal, Double.parseDouble(onYarn.get(r)[loss]), 1e-4 * Math.abs(lossLocal), "test loss of round " + r);
        }
    }

    /** jobs/submit yarn with this cluster's configuration; Java 17 for the containers is the script's default. */
    private static List<String> submit(String mode, int executors, int cores) {
        return List.of("jobs/submit", "yarn", "--deploy-mode", mode,
                "--conf", "spark.executor.instances=" + executors, "--conf", "spark.executor.cores=" + cores,
                "--conf", "spark.executor.memory=1g", "--conf", "spark.executor.memoryOverhead=1536m",
                "--conf", "spark.yarn.am.memory=512m",
                "--conf", "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
                "--conf", "spark.yarn.appMasterEnv.SPARK_LOCAL_IP=127.0.0.1",
                "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1");
    }

    /** Runs jobs/submit to its end (at most 10 minutes); returns its output, failing on a non-zero exit. */
    private static String run(List<String> command, String mode) throws IOException, InterruptedException {
        Path log = dir.resolve("submit-" + mode + ".log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("HADOOP_CONF_DIR", hadoopConf.toString());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        // The cluster jar is built beside target/, whose classes this test JVM is running from.
        pb.environment().put("FSL_BUILD_DIR", Path.of("target/cluster-build").toAbsolutePath().toString());
        long start = System.nanoTime();
        Process p = pb.start();
        boolean ended = p.waitFor(10, TimeUnit.MINUTES);
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        System.out.printf("jobs/submit yarn --deploy-mode %s: %.1f s%n", mode, (System.nanoTime() - start) / 1e9);
        assertTrue(ended, "jobs/submit yarn did not end within 10 minutes (YARN: "
                + yarn.getResourceManager().getRMContext().getRMApps() + ", RM at "
                + yarn.getConfig().get(YarnConfiguration.RM_ADDRESS) + "):\n" + tail(output));
        assertEquals(0, p.exitValue(), "jobs/submit yarn --deploy-mode " + mode + " failed:\n" + tail(output));
        return output;
    }

    /** The one application submitted since {@code before} finished and succeeded. */
    private static void assertSucceeded(Set<RMApp> before) throws InterruptedException {
        List<RMApp> apps = new ArrayList<>(yarn.getResourceManager().getRMContext().getRMApps().values());
        apps.removeAll(before);
        assertEquals(1, apps.size(), "new applications YARN saw: " + apps);
        RMApp app = apps.get(0);
        assertEquals("SPARK", app.getApplicationType());
        // The application master unregisters as the driver stops; YARN records it shortly after.
        for (int i = 0; i < 60 && app.getState() != RMAppState.FINISHED; i++) {
            Thread.sleep(500);
        }
        assertEquals(RMAppState.FINISHED, app.getState());
        assertEquals(FinalApplicationStatus.SUCCEEDED, app.getFinalApplicationStatus());
    }

    private static List<String[]> rows(Path csv) throws IOException {
        return Files.readAllLines(csv).stream().map(l -> l.split(",", -1)).toList();
    }

    private static String tail(String s) {
        return s.length() <= 8000 ? s : s.substring(s.length() - 8000);
    }
}
