package org.fslspark.testbed;

import org.apache.spark.SecurityManager;
import org.apache.spark.SparkConf;
import org.apache.spark.rpc.RpcEnv;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * jobs/testbed starts with Spark's authentication and encryption on: its worker registers with the
 * master (both holding the test-bed's secret), and an application reaches the master only with that
 * secret. What an application's driver does first, connecting to the master's RPC endpoint, is done
 * here directly with Spark's RPC client: with the test-bed's secret it connects; with a wrong secret,
 * or without authentication, the connection is refused. A one-site test-bed keeps it short.
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
            assertNotNull(connect(endpoint, value), "the test-bed's secret was refused");
            String wrong = assertThrows(Exception.class, () -> connect(endpoint, "0".repeat(64))).toString();
            System.out.println("wrong secret: " + wrong);
            assertThrows(Exception.class, () -> connect(endpoint, null));
        } finally {
            LocalTestbed.stop(state);
        }
    }

    /** Spark's RPC client with (secret != null) or without authentication and encryption: the master's endpoint. */
    private static Object connect(String endpoint, String secret) {
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
            return rpc.setupEndpointRefByURI(endpoint);
        } finally {
            rpc.shutdown();
            rpc.awaitTermination();
        }
    }
}
