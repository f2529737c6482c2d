package org.fslspark.config;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** security.*: when TLS is on, which keys it needs, and the messages that name them. */
class SecurityKeysTest {
    private static final String TOPOLOGY = "testbed.topology=conf/testbeds/aiedge.conf";
    private static final String CLUSTER = "spark.master=\"spark://127.0.0.1:7077\"";

    private static Experiment load(String... overrides) {
        return ExperimentLoader.load(null, List.of(overrides));
    }

    @Test
    void autoIsOffLocallyAndRequiresKeysForATestbedOnACluster() {
        assertFalse(load().security().enabled());
        assertFalse(load(TOPOLOGY).security().enabled(), "a test-bed in local mode");
        ConfigException e = assertThrows(ConfigException.class, () -> load(TOPOLOGY, CLUSTER));
        assertTrue(e.getMessage().startsWith("security.keystore is empty, but security.require-tls = auto requires TLS"), e.getMessage());
        Experiment on = load(TOPOLOGY, CLUSTER, "security.keystore=/keys/{site}.p12", "security.truststore=/keys/truststore.p12");
        assertTrue(on.security().enabled());
        assertEquals("/keys/{site}.p12", on.security().tls().keystore());
        assertEquals("", on.security().tls().passwordFile(), "empty: the environment holds the password");
        assertTrue(load("security.keystore=/keys/{site}.p12", "security.truststore=/keys/t.p12").security().enabled(),
                "auto with keys is on");
    }

    @Test
    void trueWithoutAKeystoreOrTruststoreIsRefusedNamingTheKey() {
        ConfigException e = assertThrows(ConfigException.class, () -> load("security.require-tls=true"));
        assertTrue(e.getMessage().startsWith("security.require-tls = true needs security.keystore"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> load("security.require-tls=true", "security.keystore=/k/{site}.p12"));
        assertTrue(e.getMessage().contains("security.truststore is empty"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> load("security.require-tls=maybe"));
        assertTrue(e.getMessage().contains("security.require-tls = 'maybe' is not one of [auto, true, false]"), e.getMessage());
    }

    @Test
    void anExplicitFalseIsPlainAndWarns() {
        Experiment e = load(TOPOLOGY, CLUSTER, "security.require-tls=false");
        assertFalse(e.security().enabled());
        assertTrue(e.security().warnPlain());
        assertFalse(load().security().warnPlain(), "auto off in local mode does not warn");
    }
}
