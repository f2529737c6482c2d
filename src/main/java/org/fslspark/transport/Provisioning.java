package org.fslspark.transport;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;

/**
 * Provisions a federation's keys ({@code fsl provision}): a CA, and for every site an EC P-256 key
 * with a certificate the CA signs naming the site (subject CN and SAN dNSName), usable by both ends
 * of a TLS link. Certificates are built by Bouncy Castle and signed by the JDK's own provider.
 *
 * <p>The CA's private key is not kept: adding a site means provisioning the federation again. A
 * site's password is generated here and only ever written to its password file.
 */
public final class Provisioning {
    public static final String TRUSTSTORE = "truststore.p12";
    public static final String README = "README.md";
    private static final Duration VALIDITY = Duration.ofDays(365);
    private static final String SIGNATURE = "SHA256withECDSA";

    private Provisioning() {
    }

    public static Path keystore(Path dir, String site) {
        return dir.resolve(site + ".p12");
    }

    public static Path passwordFile(Path dir, String site) {
        return dir.resolve(site + ".password");
    }

    /** The files provisioning writes for {@code sites}, in the order written. */
    public static List<Path> files(Path dir, List<String> sites) {
        List<Path> out = new ArrayList<>();
        for (String s : sites) {
            out.add(keystore(dir, s));
            out.add(passwordFile(dir, s));
        }
        out.add(dir.resolve(TRUSTSTORE));
        out.add(dir.resolve(README));
        return out;
    }

    /**
     * Writes a new federation's keys for {@code sites} (the first is the server site) into {@code dir};
     * refuses if any of the files exists unless {@code overwrite}. Returns the files written.
     */
    public static List<Path> provision(String federation, List<String> sites, String serverSite, Path dir, boolean overwrite)
            throws IOException {
        List<Path> files = files(dir, sites);
        List<Path> existing = files.stream().filter(Files::exists).toList();
        if (!existing.isEmpty() && !overwrite) {
            throw new TransportException(dir + " already holds a federation's keys (" + existing.get(0).getFileName()
                    + (existing.size() > 1 ? " and " + (existing.size() - 1) + " more" : "") + "); pass --overwrite to replace "
                    + "them (every site then needs its new files)");
        }
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                // A new directory of keys is the provisioner's alone.
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            }
        }
        for (Path p : existing) {
            Files.delete(p);
        }
        SecureRandom random = new SecureRandom();
        try {
            KeyPair ca = keyPair(random);
            X500Name caName = name(federation + " CA", federation);
            Instant now = Instant.now();
            X509Certificate caCert = caCertificate(ca, caName, now, random);
            for (String site : sites) {
                KeyPair kp = keyPair(random);
                X509Certificate cert = siteCertificate(site, federation, kp, ca.getPrivate(), caCert, caName, now, random);
                char[] password = password(random);
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry(Tls.KEY_ALIAS, kp.getPrivate(), password, new Certificate[]{cert, caCert});
                writePrivate(passwordFile(dir, site), new String(password).getBytes(StandardCharsets.UTF_8));
                try (OutputStream out = createPrivate(keystore(dir, site))) {
                    ks.store(out, password);
                }
                java.util.Arrays.fill(password, '\0');
            }
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry(Tls.CA_ALIAS, caCert);
            try (OutputStream out = Files.newOutputStream(dir.resolve(TRUSTSTORE))) {
                trust.store(out, Tls.TRUSTSTORE_PASSWORD.toCharArray());
            }
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new TransportException("cannot create the federation's keys: " + e.getMessage(), e);
        }
        Files.writeString(dir.resolve(README), readme(federation, sites, serverSite, now()));
        return files;
    }

    private static String now() {
        return Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    }

    private static KeyPair keyPair(SecureRandom random) throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), random);
        return g.generateKeyPair();
    }

    private static X500Name name(String cn, String federation) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "fsl-spark federation " + federation)
                .addRDN(BCStyle.CN, cn).build();
    }

    private static BigInteger serial(SecureRandom random) {
        return new BigInteger(127, random).add(BigInteger.ONE);
    }

    private static X509Certificate caCertificate(KeyPair ca, X500Name name, Instant now, SecureRandom random)
            throws GeneralSecurityException, IOException, OperatorCreationException {
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(random), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(VALIDITY)), name, ca.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublic()));
        return sign(b, ca.getPrivate());
    }

    private static X509Certificate siteCertificate(String site, String federation, KeyPair kp, PrivateKey caKey, X509Certificate caCert,
                                                   X500Name caName, Instant now, SecureRandom random)
            throws GeneralSecurityException, IOException, OperatorCreationException {
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caName, serial(random), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(VALIDITY)), name(site, federation), kp.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                // Every site is a TLS client (to the server site) and may be a server (the server site, the probe).
                .addExtension(Extension.extendedKeyUsage, false,
                        new ExtendedKeyUsage(new KeyPurposeId[]{KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.dNSName, site)))
                .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()))
                .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
        return sign(b, caKey);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException, OperatorCreationException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(SIGNATURE).build(key)));
    }

    /** 192 random bits, base64url: a password for a keystore that only a file ever holds. */
    private static char[] password(SecureRandom random) {
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).toCharArray();
    }

    /** A new file readable by its owner only from the moment it exists (where the file system is POSIX). */
    private static OutputStream createPrivate(Path p) throws IOException {
        if (p.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.createFile(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } else {
            Files.createFile(p);
        }
        return Files.newOutputStream(p);
    }

    private static void writePrivate(Path p, byte[] content) throws IOException {
        try (OutputStream out = createPrivate(p)) {
            out.write(content);
        }
    }

    static String readme(String federation, List<String> sites, String serverSite, String when) {
        StringBuilder b = new StringBuilder();
        b.append("# Keys of the federation ").append(federation).append("\n\n")
                .append("Written by `fsl provision` on ").append(when).append(". A CA (whose private key was not kept) signed one ")
                .append("certificate per site, naming the site in its subject CN and as a DNS subject alternative name. ")
                .append("Valid for ").append(VALIDITY.toDays()).append(" days.\n\n")
                .append("| site | give it | keep private |\n| --- | --- | --- |\n");
        for (String s : sites) {
            b.append("| ").append(s).append(s.equals(serverSite) ? " (server site)" : "").append(" | `").append(s).append(".p12`, `")
                    .append(s).append(".password`, `").append(TRUSTSTORE).append("` | `").append(s).append(".p12`, `").append(s)
                    .append(".password` |\n");
        }
        b.append("\nEvery site gets `").append(TRUSTSTORE).append("` (the CA's certificate only; its password is public). ")
                .append("Send each site its own `.p12` and `.password` over a channel you trust, and no other site's. ")
                .append("On each site set\n\n```\nsecurity.keystore = \"/path/to/{site}.p12\"\nsecurity.truststore = \"/path/to/")
                .append(TRUSTSTORE).append("\"\nsecurity.password-file = \"/path/to/{site}.password\"\n```\n\n")
                .append("(`{site}` is replaced by the site whose certificate an executor presents), or put the password in the ")
                .append("environment variable `").append(Tls.PASSWORD_ENV).append("` of that site's executors. ")
                .append("The password files are readable by their owner only; keep them so. To add or remove a site, or ")
                .append("after a key leaks, provision again with `--overwrite` and redistribute every file. See docs/SECURITY.md.\n");
        return b.toString();
    }
}
