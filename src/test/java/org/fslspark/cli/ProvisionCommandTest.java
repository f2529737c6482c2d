package org.fslspark.cli;

import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.Provisioning;
import org.fslspark.transport.Tls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code fsl provision}: a keystore per site that opens with its password file and holds a key and a
 * certificate naming the site (CN and SAN dNSName) that chains to the truststore's CA; password files
 * private and never printed; a second run refused unless --overwrite.
 */
class ProvisionCommandTest {
    private static final String TOPOLOGY = "conf/testbeds/aiedge.conf";

    @TempDir
    Path dir;

    private static KeyStore load(Path file, char[] password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            ks.load(in, password);
        }
        return ks;
    }

    @Test
    void everySiteGetsAKeystoreWhoseCertificateNamesItAndChainsToTheFederationCa() throws Exception {
        Path out = dir.resolve("keys");
        Cli.Result r = Cli.run("provision", TOPOLOGY, "--out", out.toString()).ok();
        Topology t = TopologyLoader.load(new File(TOPOLOGY));
        X509Certificate ca = (X509Certificate) load(out.resolve(Provisioning.TRUSTSTORE), Tls.TRUSTSTORE_PASSWORD.toCharArray())
                .getCertificate(Tls.CA_ALIAS);
        PKIXParameters pkix = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        pkix.setRevocationEnabled(false);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(out)), "a new key directory");
        String readme = Files.readString(out.resolve(Provisioning.README));
        for (String site : t.siteIds()) {
            Path passwordFile = Provisioning.passwordFile(out, site);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(passwordFile)), site);
            String password = Files.readString(passwordFile).strip();
            assertTrue(password.length() >= 32, "a long random password");
            assertFalse(r.out().contains(password) || r.err().contains(password), "the password of " + site + " was printed");
            KeyStore ks = load(Provisioning.keystore(out, site), password.toCharArray());
            assertTrue(ks.getKey(Tls.KEY_ALIAS, password.toCharArray()) instanceof PrivateKey, site);
            X509Certificate cert = (X509Certificate) ks.getCertificate(Tls.KEY_ALIAS);
            assertEquals(site, Tls.siteOf(cert));
            assertTrue(cert.getSubjectX500Principal().getName().contains("CN=" + site), cert.getSubjectX500Principal().getName());
            assertEquals(List.of(List.of(2, site)), cert.getSubjectAlternativeNames().stream().toList());
            var chain = CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(ks.getCertificateChain(Tls.KEY_ALIAS))
                    .subList(0, 1));
            CertPathValidator.getInstance("PKIX").validate(chain, pkix); // throws unless signed by this CA
            assertEquals(-1, cert.getBasicConstraints(), "a site certificate cannot sign others");
            assertTrue(readme.contains("`" + site + ".p12`") && readme.contains("`" + site + ".password`"), readme);
        }
        assertTrue(r.out().contains(out.toString()), r.out());
    }

    @Test
    void aSecondRunIsRefusedUnlessOverwriteAndOverwritingMakesNewKeys() throws Exception {
        Path out = dir.resolve("keys");
        Cli.run("provision", TOPOLOGY, "--out", out.toString()).ok();
        byte[] before = Files.readAllBytes(Provisioning.keystore(out, "osu"));
        String password = Files.readString(Provisioning.passwordFile(out, "osu"));
        Cli.Result again = Cli.run("provision", TOPOLOGY, "--out", out.toString());
        assertNotEquals(0, again.code());
        assertTrue(again.err().contains("already holds a federation's keys") && again.err().contains("--overwrite"), again.err());
        assertTrue(Arrays.equals(before, Files.readAllBytes(Provisioning.keystore(out, "osu"))), "the keys were left alone");
        Cli.Result replaced = Cli.run("provision", TOPOLOGY, "--out", out.toString(), "--overwrite").ok();
        String newPassword = Files.readString(Provisioning.passwordFile(out, "osu"));
        assertNotEquals(password, newPassword);
        assertFalse(replaced.out().contains(newPassword.strip()) || replaced.err().contains(newPassword.strip()));
        // The old password no longer opens the new keystore.
        assertThrows(Exception.class, () -> load(Provisioning.keystore(out, "osu"), password.strip().toCharArray()));
    }
}
