package org.fslspark.testbed;

import org.apache.spark.SecurityManager;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.DeployMessages;
import org.apache.spark.deploy.master.WorkerState;
import org.apache.spark.rpc.RpcEnv;
import org.apache.spark.launcher.JavaModuleOptions;
import scala.reflect.ClassTag$;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * jobs/testbed starts with Spark's authentication and encryption on: its worker registers with the
 * master (both holding the test-bed's secret), and an application reaches the master only with that
 * secret. What an application's driver does first, connecting to the master's RPC endpoint, is done
 * here directly with Spark's RPC client: with the test-bed's secret it connects; with a wrong secret,
 * or without authentication, the connection is refused; a worker daemon started with a wrong secret
 * fails to register and the master still counts one worker. A one-site test-bed keeps it short.
 */
@Tag("e2e")
class SparkSecurityTest {
    @TempDir
    Path dir;

    @Test
    void onlyAnApplicationWithTheTestbedsSecretReachesItsMaster() throws Exception {
        Path topology = dir.resolve("one-site.conf");
        Files.writeString(topology, "server-site = osu\nsites { osu { executors { label = osu, hosts = [\"127.0.0.2\"] } } }\n"
                + "links { osu { rtt = 0.2 ms, throughput-mbps = 10000 } }\n");
        Path state = dir.resolve("testbed");
        String master = LocalTestbed.start(state, topology, 600);
        try {
            Path secret = state.resolve("spark-secret");
            assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE), Files.getPosixFilePermissions(secret));
            String value = Files.readString(secret).trim();
            assertEquals(64, value.length(), "a 256-bit secret in hex");
            assertTrue(LocalTestbed.sparkSettings(state).contains("spark.conf.\"spark.authenticate.secret.file\"=\"" + secret + "\""));
            assertTrue(!Files.readString(state.resolve("spark-settings")).contains(value), "the settings name the secret's file, not the secret");

            String endpoint = master.replace("spark://", "spark://Master@");
            assertEquals(1, aliveWorkers(endpoint, value), "the test-bed's secret was refused, or its worker is missing");
            String wrong = assertThrows(Exception.class, () -> aliveWorkers(endpoint, "0".repeat(64))).toString();
            System.out.println("wrong secret: " + wrong);
            assertThrows(Exception.class, () -> aliveWorkers(endpoint, null));

            // A worker daemon (what would launch executors) started with a wrong secret never joins.
            Path log = dir.resolve("rogue-worker.log");
            List<String> command = new ArrayList<>(List.of("java", "-Xmx256m", "-Dspark.authenticate=true",
                    "-Dspark.network.crypto.enabled=true", "-cp", state.resolve("spark-home/conf") + ":"
                            + Files.readString(Path.of("target/runtime-classpath.txt")).trim(),
                    "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.3", "--port", "0", "--webui-port", "0",
                    "--cores", "1", "--memory", "256m", "--work-dir", dir.resolve("rogue").toString(), master));
            command.addAll(1, List.of(JavaModuleOptions.defaultModuleOptions().split(" ")));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("_SPARK_AUTH_SECRET", "1".repeat(64));
            pb.environment().put("SPARK_HOME", state.resolve("spark-home").toString());
            pb.environment().put("SPARK_LOCAL_IP", "127.0.0.3");
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
                assertTrue(!out.contains("Successfully registered with master"), out);
                assertEquals(1, aliveWorkers(endpoint, value), "the master counts the rogue worker");
            } finally {
                rogue.destroyForcibly();
                rogue.waitFor(30, TimeUnit.SECONDS);
            }
        } finally {
            LocalTestbed.stop(state);
        }
    }

    /**
     * Spark's RPC client with (secret != null) or without authentication and encryption: asks the master's endpoint
     * how many workers it has alive.
     */
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
            DeployMessages.MasterStateResponse state = rpc.setupEndpointRefByURI(endpoint).askSync(
                    DeployMessages.RequestMasterState$.MODULE$, ClassTag$.MODULE$.apply(DeployMessages.MasterStateResponse.class));
            return (int) Arrays.stream(state.workers()).filter(w -> w.state() == WorkerState.ALIVE()).count();
        } finally {
            rpc.shutdown();
            rpc.awaitTermination();
        }
    }
}
