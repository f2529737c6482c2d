package org.fslspark.bench;

import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.Provisioning;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Keys for a benchmark's own local test-bed: provisioned once under its output, then reused. */
public final class TestbedKeys {
    private TestbedKeys() {
    }

    /** Provisions {@code topology}'s federation into {@code dir} unless it is there already; the security.* settings using it. */
    public static List<String> settings(Path topology, Path dir) throws IOException {
        if (!Files.exists(dir.resolve(Provisioning.TRUSTSTORE))) {
            Topology t = TopologyLoader.load(topology.toFile());
            Provisioning.provision(t.name(), t.siteIds(), t.serverSite(), dir, false);
        }
        Path abs = dir.toAbsolutePath();
        return List.of("security.keystore=\"" + abs.resolve("{site}.p12") + "\"",
                "security.truststore=\"" + abs.resolve(Provisioning.TRUSTSTORE) + "\"",
                "security.password-file=\"" + abs.resolve("{site}.password") + "\"");
    }
}
