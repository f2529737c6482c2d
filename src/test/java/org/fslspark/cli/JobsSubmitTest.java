package org.fslspark.cli;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.deploy.yarn.ResourceRequestHelper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The spark-submit command jobs/submit builds (its --dry-run prints it an argument per line): what
 * it adds composes with what the user and the cluster set instead of replacing it. Uses the cluster
 * jar that YarnSubmitTest's jobs/submit builds in target/cluster-build (built here when missing).
 */
class JobsSubmitTest {
    @TempDir
    Path dir;

    record Result(int exit, List<String> lines, String output) {
        /** Every --conf KEY=VALUE the command passes, in order. */
        List<String> confs(String key) {
            List<String> values = new ArrayList<>();
            for (int i = 0; i + 1 < lines.size(); i++) {
                if (lines.get(i).equals("--conf") && lines.get(i + 1).startsWith(key + "=")) {
                    values.add(lines.get(i + 1).substring(key.length() + 1));
                }
            }
            return values;
        }

        String after(String option) {
            int i = lines.indexOf(option);
            assertTrue(i >= 0 && i + 1 < lines.size(), option + " missing from " + lines);
            return lines.get(i + 1);
        }
    }

    private Result submit(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("jobs/submit"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("SPARK_HOME");
        pb.environment().remove("SPARK_CONF_DIR");
        pb.environment().put("FSL_BUILD_DIR", Path.of("target/cluster-build").toAbsolutePath().toString());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().putAll(env);
        Path stderr = dir.resolve("stderr");
        pb.redirectError(stderr.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("jobs/submit " + String.join(" ", args) + " did not end in 5 minutes");
        }
        String err = Files.readString(stderr);
        return new Result(p.exitValue(), out.lines().toList(), out + err);
    }

    private Path hadoopConf() throws IOException {
        Path conf = Files.createDirectories(dir.resolve("hadoop-conf"));
        Files.writeString(conf.resolve("core-site.xml"), "<configuration/>\n");
        return conf;
    }

    @Test
    void theUsersJavaOptionsAndTheClustersDefaultsAreKept() throws Exception {
        Path sparkConf = Files.createDirectories(dir.resolve("spark-conf"));
        Files.writeString(sparkConf.resolve("spark-defaults.conf"), "spark.executor.defaultJavaOptions  -Dadmin.flag=1\n"
                + "spark.executorEnv.JAVA_HOME=/opt/admin-java\nspark.dynamicAllocation.enabled true\n");
        Result r = submit(Map.of("HADOOP_CONF_DIR", hadoopConf().toString(), "SPARK_CONF_DIR", sparkConf.toString(),
                        "FSL_YARN_JAVA_HOME", "/opt/java-17"),
                "yarn", "--dry-run", "--deploy-mode", "client",
                "--conf", "spark.executor.extraJavaOptions=-Duser.flag=2 -XX:+UseG1GC",
                "--conf", "spark.driver.extraJavaOptions=-Duser.driver=3",
                "--", "train", "conf/quickstart.conf");
        assertEquals(0, r.exit(), r.output());
        // The user's options pass untouched, once; the project's flags go to defaultJavaOptions, before the cluster's.
        assertEquals(List.of("-Duser.flag=2 -XX:+UseG1GC"), r.confs("spark.executor.extraJavaOptions"));
        assertEquals(List.of("-Duser.driver=3"), r.confs("spark.driver.extraJavaOptions"));
        String executor = r.confs("spark.executor.defaultJavaOptions").get(0);
        assertTrue(executor.startsWith("--add-opens=java.base/java.lang=ALL-UNNAMED "), executor);
        assertTrue(executor.endsWith(" -Dadmin.flag=1"), executor);
        assertTrue(r.confs("spark.driver.defaultJavaOptions").get(0).contains("--add-exports=java.base/sun.security.action=ALL-UNNAMED"));
        // spark-defaults.conf is still read by Spark (no --properties-file), and what it sets is not overridden ...
        assertFalse(r.lines().contains("--properties-file"), r.lines().toString());
        assertEquals(List.of(), r.confs("spark.executorEnv.JAVA_HOME"));
        assertEquals(List.of("/opt/java-17"), r.confs("spark.yarn.appMasterEnv.JAVA_HOME"));
        // ... except dynamic allocation, which barrier rounds cannot run under.
        assertEquals(List.of("false"), r.confs("spark.dynamicAllocation.enabled"));
        assertTrue(r.output().contains("turning off dynamic allocation"), r.output());
        for (String on : List.of("spark.authenticate", "spark.network.crypto.enabled", "spark.io.encryption.enabled")) {
            assertEquals(List.of("true"), r.confs(on), on);
        }
    }

    @Test
    void theGpuOverlayComposesWithTheClustersDefaultsAndShipsTheDiscoveryScript() throws Exception {
        Path sparkConf = Files.createDirectories(dir.resolve("spark-conf"));
        Files.writeString(sparkConf.resolve("spark-defaults.conf"), "spark.executor.cores 8\n"
                + "spark.executorEnv.JAVA_HOME /opt/admin-java\nspark.eventLog.enabled true\n");
        // FSL_CUDA=0: the CPU jar serves the dry run (--gpu alone would build for CUDA).
        Result r = submit(Map.of("HADOOP_CONF_DIR", hadoopConf().toString(), "SPARK_CONF_DIR", sparkConf.toString(), "FSL_CUDA", "0"),
                "yarn", "--dry-run", "--overlay", "conf/spark/yarn.properties", "--gpu", "--conf", "spark.executor.memory=6g",
                "--", "train", "conf/quickstart.conf");
        assertEquals(0, r.exit(), r.output());
        // spark-defaults.conf stays in effect (no --properties-file), and what only it sets is left to it.
        assertFalse(r.lines().contains("--properties-file"), r.lines().toString());
        assertEquals(List.of(), r.confs("spark.executorEnv.JAVA_HOME"));
        assertEquals(List.of(), r.confs("spark.eventLog.enabled"));
        // Overlays as --conf options: the GPU one over yarn.properties over the defaults; the user's --conf over all.
        assertEquals(List.of("4"), r.confs("spark.executor.cores"));
        assertEquals(List.of("6g"), r.confs("spark.executor.memory"));
        assertEquals(List.of("3g"), r.confs("spark.executor.memoryOverhead"));
        assertEquals(List.of("1"), r.confs("spark.executor.resource.gpu.amount"));
        assertEquals(List.of("0.25"), r.confs("spark.task.resource.gpu.amount"));
        // The discovery script goes into every container's working directory, where the overlay names it.
        assertEquals(List.of("./gpu-discovery.sh"), r.confs("spark.executor.resource.gpu.discoveryScript"));
        assertEquals(Path.of("conf/spark/gpu-discovery.sh").toAbsolutePath().toString(), r.after("--files"));
        assertTrue(Files.isExecutable(Path.of("conf/spark/gpu-discovery.sh")));
        // Spark's YARN client accepts what is passed (and would refuse the YARN-specific GPU key).
        SparkConf passed = new SparkConf(false);
        for (int i = 0; i + 1 < r.lines().size(); i++) {
            String kv = r.lines().get(i + 1);
            if (r.lines().get(i).equals("--conf")) {
                passed.set(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
        }
        assertTrue(Arrays.stream(passed.getAll()).noneMatch(kv -> kv._1().startsWith("spark.worker.") || kv._1().startsWith("spark.yarn.executor.resource.")));
        ResourceRequestHelper.validateResources(passed);
        assertThrows(SparkException.class, () -> ResourceRequestHelper.validateResources(
                passed.clone().set("spark.yarn.executor.resource.yarn.io/gpu.amount", "1")));
    }

    @Test
    void inYarnClusterModeALocalConfigAndItsTopologyShipWithTheApplication() throws Exception {
        Path topology = dir.resolve("bed.conf");
        Files.copy(Path.of("conf/testbeds/aiedge.conf"), topology);
        Path config = dir.resolve("exp.conf");
        Files.writeString(config, "train.rounds = 1\ntestbed.topology = \"" + topology + "\"\n");
        Result r = submit(Map.of("HADOOP_CONF_DIR", hadoopConf().toString()), "yarn", "--dry-run", "--deploy-mode", "cluster",
                "--files", "/etc/hostname", "--", "train", config.toString(), "--out", "hdfs:///fsl/out");
        assertEquals(0, r.exit(), r.output());
        assertEquals("/etc/hostname," + config + "," + topology, r.after("--files"));
        List<String> fsl = r.lines().subList(r.lines().indexOf("train"), r.lines().size());
        assertEquals(List.of("train", "exp.conf", "--out", "hdfs:///fsl/out", "--set", "testbed.topology=\"bed.conf\""), fsl);

        // A config on a Hadoop file system is read there; nothing is shipped.
        Result remote = submit(Map.of("HADOOP_CONF_DIR", hadoopConf().toString()), "yarn", "--dry-run", "--deploy-mode", "cluster",
                "--", "train", "hdfs://nn:8020/fsl/exp.conf");
        assertEquals(0, remote.exit(), remote.output());
        assertFalse(remote.lines().contains("--files"), remote.lines().toString());
        assertEquals("hdfs://nn:8020/fsl/exp.conf", remote.lines().get(remote.lines().size() - 1));

        Result missing = submit(Map.of("HADOOP_CONF_DIR", hadoopConf().toString()), "yarn", "--dry-run", "--deploy-mode", "cluster",
                "--", "train", "conf/none.conf");
        assertNotEquals(0, missing.exit());
        assertTrue(missing.output().contains("config file conf/none.conf does not exist (looked for "), missing.output());
    }

    @Test
    void aStandaloneTestbedsSecretIsPassedByItsFileNeverItsValue() throws Exception {
        Path testbed = Files.createDirectories(dir.resolve("testbed"));
        Files.writeString(testbed.resolve("master-url"), "spark://127.0.0.1:7077\n");
        Files.writeString(testbed.resolve("spark-secret"), "s3cr3t-value");
        Result r = submit(Map.of("FSL_TESTBED_DIR", testbed.toString()), "standalone", "--dry-run",
                "--master", "spark://127.0.0.1:7077", "--", "train", "conf/quickstart.conf");
        assertEquals(0, r.exit(), r.output());
        assertEquals(List.of(testbed.resolve("spark-secret").toString()), r.confs("spark.authenticate.secret.file"));
        assertEquals(List.of("true"), r.confs("spark.authenticate"));
        assertFalse(r.output().contains("s3cr3t-value"), r.output());
    }

    @Test
    void anApplicationAskingForDynamicAllocationStopsAtOnceSayingWhy() throws Exception {
        long start = System.nanoTime();
        Result r = submit(Map.of(), "local", "--conf", "spark.dynamicAllocation.enabled=true", "--",
                "train", "conf/quickstart.conf", "--out", dir.resolve("out").toString());
        System.out.printf("refused in %.1f s%n", (System.nanoTime() - start) / 1e9);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("spark.dynamicAllocation.enabled=true: fsl-spark's rounds run as barrier stages"), r.output());
        assertFalse(Files.exists(dir.resolve("out")), "a refused run wrote results");
    }
}
