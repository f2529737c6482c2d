package org.fslspark.runtime;

import org.apache.hadoop.yarn.api.records.FinalApplicationStatus;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.server.resourcemanager.rmapp.RMApp;
import org.apache.hadoop.yarn.server.resourcemanager.rmapp.RMAppState;
import org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * jobs/submit's YARN path against a real YARN (Hadoop's MiniYARNCluster: a ResourceManager and a
 * NodeManager in this JVM, executors in containers it launches): the quickstart experiment, two
 * rounds on a Fashion-MNIST subset, submitted in client mode with the application jar the script
 * builds (Spark provided).
 */
@Tag("e2e")
class YarnSubmitTest {
    @TempDir
    static Path dir;

    @Test
    void theQuickstartRunsOnYarnThroughJobsSubmit() throws Exception {
        String[] setup = {"data.train-subset=2000", "train.rounds=2"};
        Fixtures.prepare(Fixtures.experiment(dir, setup));
        Path out = dir.resolve("out-yarn");

        YarnConfiguration conf = new YarnConfiguration();
        conf.set(YarnConfiguration.RM_SCHEDULER, FifoScheduler.class.getName());
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
        conf.setInt(YarnConfiguration.NM_PMEM_MB, 12288);
        conf.setInt(YarnConfiguration.NM_VCORES, 8);
        // ND4J's off-heap buffers would trip YARN's memory checks on this small machine.
        conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
        conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
        try (MiniYARNCluster yarn = new MiniYARNCluster("fsl-submit", 1, 1, 1)) {
            yarn.init(conf);
            yarn.start();
            // start() may return before the ResourceManager has put its bound port into the config.
            for (int i = 0; i < 100 && yarn.getConfig().get(YarnConfiguration.RM_ADDRESS).endsWith(":0"); i++) {
                Thread.sleep(100);
            }
            Path hadoopConf = Files.createDirectories(dir.resolve("hadoop-conf"));
            for (String file : List.of("yarn-site.xml", "core-site.xml")) {
                try (OutputStream o = Files.newOutputStream(hadoopConf.resolve(file))) {
                    yarn.getConfig().writeXml(o);
                }
            }

            String java = System.getProperty("java.home");
            List<String> command = new ArrayList<>(List.of("jobs/submit", "yarn", "--deploy-mode", "client",
                    "--conf", "spark.executor.instances=2", "--conf", "spark.executor.cores=3",
                    "--conf", "spark.executor.memory=1g", "--conf", "spark.yarn.am.memory=512m",
                    "--conf", "spark.executorEnv.JAVA_HOME=" + java, "--conf", "spark.yarn.appMasterEnv.JAVA_HOME=" + java,
                    "--conf", "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
                    "--conf", "spark.yarn.appMasterEnv.SPARK_LOCAL_IP=127.0.0.1",
                    "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
                    "--", "train", "conf/quickstart.conf", "--out", out.toString(), "--overwrite",
                    "--set", "data.location=\"" + dir.resolve("data") + "\"", "--set", "train.eval-batch-size=500"));
            for (String s : setup) {
                command.addAll(List.of("--set", s));
            }
            Path log = dir.resolve("submit.log");
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("HADOOP_CONF_DIR", hadoopConf.toString());
            pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
            // The cluster jar is built beside target/, whose classes this test JVM is running from.
            pb.environment().put("FSL_BUILD_DIR", Path.of("target/cluster-build").toAbsolutePath().toString());
            Process p = pb.start();
            boolean ended = p.waitFor(10, TimeUnit.MINUTES);
            if (!ended) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            String output = Files.readString(log);
            assertTrue(ended, "jobs/submit yarn did not end within 10 minutes (YARN: "
                    + yarn.getResourceManager().getRMContext().getRMApps() + ", RM at "
                    + yarn.getConfig().get(YarnConfiguration.RM_ADDRESS) + "):\n" + tail(output));
            assertEquals(0, p.exitValue(), "jobs/submit yarn failed:\n" + tail(output));

            List<String> rounds = Files.readAllLines(out.resolve("rounds.csv"));
            assertEquals(3, rounds.size(), "a header and two rounds: " + rounds);
            List<RMApp> apps = new ArrayList<>(yarn.getResourceManager().getRMContext().getRMApps().values());
            assertEquals(1, apps.size(), "applications YARN saw: " + apps);
            RMApp app = apps.get(0);
            assertEquals("SPARK", app.getApplicationType());
            // The application master unregisters as the driver stops; YARN records it shortly after.
            for (int i = 0; i < 60 && app.getState() != RMAppState.FINISHED; i++) {
                Thread.sleep(500);
            }
            assertEquals(RMAppState.FINISHED, app.getState());
            assertEquals(FinalApplicationStatus.SUCCEEDED, app.getFinalApplicationStatus());
        }
    }

    private static String tail(String s) {
        return s.length() <= 8000 ? s : s.substring(s.length() - 8000);
    }
}
