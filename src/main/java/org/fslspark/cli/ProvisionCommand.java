package org.fslspark.cli;

import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.Provisioning;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "provision", mixinStandardHelpOptions = true,
        description = {"Create a federation's keys for mutual TLS between its sites: a CA and, for every site of TOPOLOGY, a key "
                + "and certificate naming the site (DIR/<site>.p12, its password in DIR/<site>.password, readable by the owner only), "
                + "one truststore with the CA's certificate (DIR/truststore.p12), and DIR/README.md saying which file goes to which "
                + "site. Passwords are never printed. See docs/SECURITY.md."})
final class ProvisionCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "TOPOLOGY", description = "Topology file (HOCON), e.g. conf/testbeds/aiedge.conf.")
    File topology;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for the keys (created if missing).")
    File out;

    @Option(names = "--overwrite", description = "Replace the keys already in DIR (every site then needs its new files).")
    boolean overwrite;

    @Override
    public Integer call() throws IOException {
        Topology t = TopologyLoader.load(topology);
        Path dir = out.toPath();
        var files = Provisioning.provision(t.name(), t.siteIds(), t.serverSite(), dir, overwrite);
        System.out.printf("Provisioned the federation %s: %d sites (server site %s) in %s%n", t.name(), t.siteIds().size(),
                t.serverSite(), dir);
        files.forEach(f -> System.out.println("  " + f.getFileName()));
        System.out.println("Which file goes to which site: " + dir.resolve(Provisioning.README));
        return 0;
    }
}
