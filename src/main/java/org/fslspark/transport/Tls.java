package org.fslspark.transport;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * Mutual TLS 1.3 for the links the project opens itself, with the federation's provisioned keys
 * ({@link Provisioning}). Both ends present their site certificate; each end trusts only the
 * federation CA. A site is named by its certificate's SAN dNSName (the subject CN says the same).
 *
 * <p>TLS is layered over a plain socket the caller made ({@link MeteredSocket} where wire bytes are
 * counted), so the TLS records are what crosses, and is metered on, that socket.
 */
public final class Tls {
    /** The environment variable that may hold a site's keystore password instead of a file. */
    public static final String PASSWORD_ENV = "FSL_SECURITY_PASSWORD";
    /** The truststore holds only the CA's certificate, no secret, so its password is public. */
    public static final String TRUSTSTORE_PASSWORD = "fsl-federation-truststore";
    public static final String KEY_ALIAS = "site";
    public static final String CA_ALIAS = "federation-ca";
    private static final String PROTOCOL = "TLSv1.3";
    /** A peer that connects but never completes its handshake must not hold the other end for long. */
    private static final int HANDSHAKE_TIMEOUT_MS = 30_000;

    private final String site;
    private final SSLContext context;

    /**
     * Where a site's keys are, as configured ({@code security.*}); holds no password, so it may be
     * shipped to tasks. {@code {site}} in the keystore and password file stands for the site whose
     * certificate an end presents. A blank password file means {@link #PASSWORD_ENV}.
     */
    public record KeyFiles(String keystore, String truststore, String passwordFile) implements Serializable {
        /**
         * The site's context, loaded once per JVM (0.4-0.9 s a load, for every task of every round otherwise)
         * and again when a key file changes, so that keys rotated on an executor's disk are used.
         */
        public Tls forSite(String site) {
            Path keys = Path.of(keystore.replace("{site}", site));
            List<Object> version = List.of(this, site, modified(keys), modified(Path.of(truststore)),
                    passwordFile.isBlank() ? "environment" : modified(Path.of(passwordFile.replace("{site}", site))));
            return LOADED.compute(List.of(this, site), (k, old) -> old != null && old.version.equals(version) ? old
                    : new Loaded(version, load(keys, Path.of(truststore), password(site), site))).tls;
        }

        private static Object modified(Path file) {
            try {
                return Files.getLastModifiedTime(file);
            } catch (IOException e) {
                return "missing"; // load() names the file that cannot be read
            }
        }

        private char[] password(String site) {
            if (passwordFile.isBlank()) {
                String env = System.getenv(PASSWORD_ENV);
                if (env == null || env.isEmpty()) {
                    throw new TransportException("no keystore password for site " + site + ": security.password-file is empty and "
                            + PASSWORD_ENV + " is not set");
                }
                return env.toCharArray();
            }
            Path file = Path.of(passwordFile.replace("{site}", site));
            try {
                return Files.readString(file, StandardCharsets.UTF_8).strip().toCharArray();
            } catch (IOException e) {
                throw new TransportException("cannot read the keystore password of site " + site + " from " + file + ": " + e.getMessage(), e);
            }
        }
    }

    private record Loaded(List<Object> version, Tls tls) {
    }

    private static final java.util.Map<List<Object>, Loaded> LOADED = new java.util.concurrent.ConcurrentHashMap<>();

    private Tls(String site, SSLContext context) {
        this.site = site;
        this.context = context;
    }

    /** The context of {@code site}: its key and certificate from {@code keystore}, trusting {@code truststore}'s CA only. */
    public static Tls load(Path keystore, Path truststore, char[] password, String site) {
        try {
            KeyStore keys = read(keystore, password);
            Certificate own = keys.getCertificate(KEY_ALIAS);
            if (!(own instanceof X509Certificate x) || !site.equals(siteOf(x))) {
                throw new TransportException(keystore + " holds no certificate of site " + site
                        + (own instanceof X509Certificate x ? " (it is site " + siteOf(x) + "'s)" : ""));
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(read(truststore, TRUSTSTORE_PASSWORD.toCharArray()));
            SSLContext context = SSLContext.getInstance(PROTOCOL);
            context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return new Tls(site, context);
        } catch (GeneralSecurityException | IOException e) {
            // The messages of KeyStore.load name no password; a wrong one reads "keystore password was incorrect".
            throw new TransportException("cannot load the TLS keys of site " + site + " (" + keystore + ", " + truststore + "): "
                    + e.getMessage(), e);
        } finally {
            Arrays.fill(password, '\0');
        }
    }

    static KeyStore read(Path file, char[] password) throws GeneralSecurityException, IOException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            ks.load(in, password);
        }
        return ks;
    }

    public String site() {
        return site;
    }

    /** The client end over {@code raw}: handshakes and checks that the peer is {@code serverSite}. */
    public SSLSocket client(Socket raw, String serverSite) throws IOException {
        SSLSocket s = layer(raw, true);
        String peer = peerSite(s);
        if (!serverSite.equals(peer)) {
            s.close();
            throw new TransportException("the server end at " + raw.getRemoteSocketAddress() + " presented the certificate of site "
                    + peer + ", not of the server site " + serverSite);
        }
        return s;
    }

    /** The server end over an accepted {@code raw}: handshakes, requiring the client's certificate. */
    public SSLSocket server(Socket raw) throws IOException {
        return layer(raw, false);
    }

    private SSLSocket layer(Socket raw, boolean clientMode) throws IOException {
        SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(raw, raw.getInetAddress().getHostAddress(), raw.getPort(), true);
        s.setEnabledProtocols(new String[]{PROTOCOL});
        s.setUseClientMode(clientMode);
        if (!clientMode) {
            s.setNeedClientAuth(true);
        }
        int timeout = raw.getSoTimeout();
        raw.setSoTimeout(timeout == 0 ? HANDSHAKE_TIMEOUT_MS : Math.min(timeout, HANDSHAKE_TIMEOUT_MS));
        try {
            s.startHandshake();
        } catch (IOException e) {
            s.close();
            throw e;
        }
        raw.setSoTimeout(timeout);
        return s;
    }

    /** The site named by the certificate {@code s}'s peer presented; null for a plain socket. */
    public static String peerSite(Socket s) {
        if (!(s instanceof SSLSocket ssl)) {
            return null;
        }
        try {
            Certificate[] chain = ssl.getSession().getPeerCertificates();
            return siteOf((X509Certificate) chain[0]);
        } catch (SSLPeerUnverifiedException e) {
            throw new TransportException("the peer at " + s.getRemoteSocketAddress() + " presented no certificate", e);
        }
    }

    /** A site certificate's site: its first SAN dNSName, else its subject CN. */
    public static String siteOf(X509Certificate c) {
        try {
            Collection<List<?>> names = c.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> n : names) {
                    if (Integer.valueOf(2).equals(n.get(0))) {
                        return (String) n.get(1);
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new TransportException("unreadable subject alternative names in " + c.getSubjectX500Principal(), e);
        }
        for (String part : c.getSubjectX500Principal().getName().split(",")) {
            if (part.startsWith("CN=")) {
                return part.substring(3);
            }
        }
        return null;
    }
}
