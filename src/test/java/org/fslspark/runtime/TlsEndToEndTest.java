package org.fslspark.runtime;

import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.transport.Provisioning;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A SplitFed-V2 round in Spark's local mode with mutual TLS on (security.require-tls = true, keys
 * from provisioning, {site} per task) trains as the plain run does (client-by-client order: the same
 * accuracy), moves the same payload, and meters more wire bytes (the TLS records); no password
 * reaches the run's recorded config.
 */
class TlsEndToEndTest {
    static SparkSession spark;
    @TempDir
    static Path dir;
    private static final String[] SETUP = {"institutes=[osu, iitb]", "data.train-subset=200", "train.rounds=1",
            "train.batch-size=32", "data.partition.scheme=iid", "algorithm=splitfed-v2", "train.server-order=client-by-client"};

    @BeforeAll
    static void start() throws Exception {
        spark = Fixtures.spark();
        List<String> setup = new ArrayList<>(List.of(SETUP));
        setup.add(Fixtures.smallTestSet(dir.resolve("test"), 500));
        Fixtures.prepare(Fixtures.experiment(dir, setup.toArray(String[]::new)));
        Provisioning.provision("local", List.of("osu", "iitb"), "osu", dir.resolve("keys"), false);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static RoundRecord run(String name, String... security) throws Exception {
        List<String> overrides = new ArrayList<>(List.of(SETUP));
        overrides.add(Fixtures.smallTestSet(dir.resolve("test"), 500));
        overrides.add("output=\"" + dir.resolve(name) + "\"");
        overrides.addAll(List.of(security));
        Experiment e = Fixtures.experiment(dir, overrides.toArray(String[]::new));
        return FederatedTraining.run(e, spark, true, r -> { }).rounds().get(0);
    }

    @Test
    void aTlsRoundTrainsAsThePlainOneWithTheSamePayloadAndMoreWireBytes() throws Exception {
        Path keys = dir.resolve("keys");
        RoundRecord plain = run("plain", "security.require-tls=false");
        RoundRecord tls = run("tls", "security.require-tls=true", "security.keystore=\"" + keys.resolve("{site}.p12") + "\"",
                "security.truststore=\"" + keys.resolve(Provisioning.TRUSTSTORE) + "\"",
                "security.password-file=\"" + keys.resolve("{site}.password") + "\"");
        assertEquals(plain.testAccuracy(), tls.testAccuracy());
        assertEquals(plain.payloadBytesUp(), tls.payloadBytesUp());
        assertEquals(plain.payloadBytesDown(), tls.payloadBytesDown());
        assertTrue(tls.wireBytesUp() > plain.wireBytesUp(), tls.wireBytesUp() + " vs " + plain.wireBytesUp());
        assertTrue(tls.wireBytesDown() > plain.wireBytesDown(), tls.wireBytesDown() + " vs " + plain.wireBytesDown());
        String config = Files.readString(dir.resolve("tls").resolve("config"));
        assertTrue(config.contains(keys.resolve("{site}.p12").toString()), "the keystore's path is recorded");
        for (String site : List.of("osu", "iitb")) {
            String password = Files.readString(Provisioning.passwordFile(keys, site)).strip();
            assertFalse(config.contains(password), "the password of " + site + " is in the recorded config");
        }
    }
}
