package org.fslspark.runtime;

import org.apache.spark.SecurityManager;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.deploy.DeployMessages;
import org.apache.spark.deploy.master.WorkerState;
import org.apache.spark.launcher.JavaModuleOptions;
import org.apache.spark.rpc.RpcEnv;
import org.apache.spark.sql.SparkSession;
import org.fslspark.testbed.LocalTestbed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.File;
import java.io.Reader;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One local standalone test-bed (jobs/testbed: a master and a worker per site, two sites), started as
 * `jobs/testbed start --gpus 2` starts it, with Spark's authentication and encryption on and two emulated
 * GPUs per worker, for what a standalone cluster must do:
 * <ul>
 *   <li>its secret: an application reaches the master only with it (what a driver does first, connecting to
 *   the master's RPC endpoint, done here with Spark's RPC client); a wrong secret or none is refused; a worker
 *   daemon started with a wrong secret never registers;</li>
 *   <li>its GPUs: an application with conf/spark/gpu-standalone.properties gets an executor per core, each
 *   with a GPU of its own, and every task, once past the placement check all of a run's tasks start with,
 *   has ND4J told that GPU's device (recorded only: a CPU build binds nothing).</li>
 * </ul>
 */
@Tag("e2e")
class StandaloneTestbedTest {
    @TempDir
    static Path dir;
    static Path state;
    static String master;

    @BeforeAll
    static void start() throws Exception {
        Path topology = dir.resolve("two-sites.conf");
        Files.writeString(topology, """
                server-site = a
                sites {
                  a { executors.hosts = ["127.0.0.2"] }
                  b { executors.hosts = ["127.0.0.3"] }
                }
                links { a { rtt = 1 ms, throughput-mbps = 1000 }, b { rtt = 1 ms, throughput-mbps = 1000 } }
                """);
        state = dir.resolve("testbed");
        // Site a's worker has 2 cores, b's 1.
        master = LocalTestbed.start(state, topology, 600, "--gpus", "2", "--worker-memory", "1g");
    }

    @AfterAll
    static void stop() {
        LocalTestbed.stop(state);
    }

    @Test
    void onlyWhatHoldsTheTestbedsSecretReachesItsMaster() throws Exception {
        Path secret = state.resolve("spark-secret");
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE), Files.getPosixFilePermissions(secret));
        String value = Files.readString(secret).trim();
        assertEquals(64, value.length(), "a 256-bit secret in hex");
        assertTrue(LocalTestbed.sparkSettings(state).contains("spark.conf.\"spark.authenticate.secret.file\"=\"" + secret + "\""));
        assertFalse(Files.readString(state.resolve("spark-settings")).contains(value), "the settings name the secret's file, not the secret");

        String endpoint = master.replace("spark://", "spark://Master@");
        assertEquals(2, aliveWorkers(endpoint, value), "the test-bed's secret was refused, or a worker is missing");
        String wrong = assertThrows(Exception.class, () -> aliveWorkers(endpoint, "0".repeat(64))).toString();
        System.out.println("wrong secret: " + wrong);
        assertThrows(Exception.class, () -> aliveWorkers(endpoint, null));

        // A worker daemon (what would launch executors) started with a wrong secret never joins.
        Path log = dir.resolve("rogue-worker.log");
        List<String> command = new ArrayList<>(List.of("java", "-Xmx256m", "-Dspark.authenticate=true",
                "-Dspark.network.crypto.enabled=true", "-cp", state.resolve("spark-home/conf") + ":"
                        + Files.readString(Path.of("target/runtime-classpath.txt")).trim(),
                "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.4", "--port", "0", "--webui-port", "0",
                "--cores", "1", "--memory", "256m", "--work-dir", dir.resolve("rogue").toString(), master));
        command.addAll(1, List.of(JavaModuleOptions.defaultModuleOptions().split(" ")));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("_SPARK_AUTH_SECRET", "1".repeat(64));
        pb.environment().put("SPARK_HOME", state.resolve("spark-home").toString());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.4");
        Process rogue = pb.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            String seen;
            while (rogue.isAlive() && System.nanoTime() < deadline && !(seen = Files.readString(log)).contains("Failed to connect to master")
                    && !seen.contains("Successfully registered with master")) {
                Thread.sleep(200);
            }
            String out = Files.readString(log);
            assertTrue(out.contains("Failed to connect to master"), out);
            assertFalse(out.contains("Successfully registered with master"), out);
            assertEquals(2, aliveWorkers(endpoint, value), "the master counts the rogue worker");
        } finally {
            rogue.destroyForcibly();
            rogue.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** What a task saw. */
    record Seen(String executor, String host, String site, List<String> addresses, GpuBinding.Bound bound) implements Serializable {
    }

    /** A task: passes the placement check every task of a run starts with (which binds its GPU), says what it saw. */
    static final class Look extends AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Seen>>
            implements Serializable {
        @Override
        public scala.collection.Iterator<Seen> apply(scala.collection.Iterator<Integer> ignored) {
            String site = Placement.executorSite();
            Placement.requireSite(site);
            Seen seen = new Seen(SparkEnv.get().executorId(), SparkEnv.get().blockManager().blockManagerId().host(), site,
                    Arrays.asList(TaskContext.get().resources().get("gpu").get().addresses()), GpuBinding.current());
            return scala.collection.Iterator$.MODULE$.single(seen);
        }
    }

    @Test
    void executorsGetDistinctGpusAndEachTaskIsBoundToItsOwn() throws Exception {
        SparkConf conf = new SparkConf().setMaster(master).setAppName("emulated GPUs")
                .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.ui.enabled", "false").set("spark.executor.memory", "512m")
                .set("spark.executor.extraClassPath", new File("target/classes").getAbsolutePath() + File.pathSeparator
                        + new File("target/test-classes").getAbsolutePath());
        // The test-bed's secret and encryption (what Sparks.session makes of the test-bed's spark-settings).
        conf.set("spark.authenticate", "true").set("spark.network.crypto.enabled", "true").set("spark.io.encryption.enabled", "true")
                .set("spark.authenticate.secret", Files.readString(state.resolve("spark-secret")).trim());
        Properties overlay = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of("conf/spark/gpu-standalone.properties"))) {
            overlay.load(r);
        }
        overlay.forEach((k, v) -> conf.set((String) k, ((String) v).trim()));
        conf.set("spark.executor.cores", "1"); // the test-bed's workers are small
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (sc.sc().statusTracker().getExecutorInfos().length < 4 && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            // A barrier stage runs its three tasks at once, so each executor runs one.
            Object collected = sc.parallelize(List.of(1, 2, 3), 3).rdd().barrier()
                    .mapPartitions(new Look(), false, ClassTag$.MODULE$.apply(Seen.class)).collect();
            List<Seen> seen = Arrays.asList((Seen[]) collected);
            System.out.println("tasks saw: " + seen);
            assertEquals(3, seen.stream().map(Seen::executor).distinct().count(), seen.toString());
            for (Seen s : seen) {
                assertEquals(1, s.addresses().size(), s.toString());
                assertEquals(s.addresses().get(0), s.bound().address(), s.toString());
                assertEquals(Integer.parseInt(s.addresses().get(0)), s.bound().device(), s.toString());
                assertFalse(s.bound().applied(), "a CPU build binds no device");
            }
            // Executors on one node (here: one worker) never share a GPU.
            Map<String, List<String>> byHost = seen.stream().collect(Collectors.groupingBy(Seen::host,
                    Collectors.mapping(s -> s.addresses().get(0), Collectors.toList())));
            assertEquals(Set.of("0", "1"), new HashSet<>(byHost.get("127.0.0.2")), byHost.toString());
            assertEquals(1, byHost.get("127.0.0.3").size(), byHost.toString());
            assertTrue(seen.stream().allMatch(s -> s.site().equals(s.host().equals("127.0.0.2") ? "a" : "b")), seen.toString());
        } finally {
            spark.stop();
        }
    }

    /** Spark's RPC client with (secret != null) or without authentication and encryption: the master's alive workers. */
    private static int aliveWorkers(String endpoint, String secret) {
        SparkConf conf = new SparkConf(false).set("spark.rpc.lookupTimeout", "20s").set("spark.rpc.askTimeout", "20s")
                .set("spark.driver.bindAddress", "127.0.0.1");
        if (secret != null) {
            conf.set("spark.authenticate", "true").set("spark.authenticate.secret", secret)
                    .set("spark.network.crypto.enabled", "true");
        }
        SecurityManager security = new SecurityManager(conf, SecurityManager.$lessinit$greater$default$2(),
                SecurityManager.$lessinit$greater$default$3());
        RpcEnv rpc = RpcEnv.create("fsl-security-test", "127.0.0.1", "127.0.0.1", 0, conf, security, 1, true);
        try {
            DeployMessages.MasterStateResponse response = rpc.setupEndpointRefByURI(endpoint).askSync(
                    DeployMessages.RequestMasterState$.MODULE$, ClassTag$.MODULE$.apply(DeployMessages.MasterStateResponse.class));
            return (int) Arrays.stream(response.workers()).filter(w -> w.state() == WorkerState.ALIVE()).count();
        } finally {
            rpc.shutdown();
            rpc.awaitTermination();
        }
    }
}
