package org.fslspark.cli;

import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyException;
import org.fslspark.testbed.TopologyLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "topology", mixinStandardHelpOptions = true,
        description = "Check a test-bed topology file (e.g. conf/testbeds/aiedge.conf) and print its sites and links.")
final class TopologyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "Topology file (HOCON).")
    File file;

    @Option(names = "--workers", description = "Print what jobs/testbed starts, one line per site: site, host (its first "
            + "executors.hosts entry), cores (2 at the server site, which runs a client and the server at once; 1 elsewhere).")
    boolean workers;

    @Option(names = "--spark-conf", paramLabel = "yarn|k8s", description = "Print the Spark settings (key=value, as in a "
            + "--properties-file) that place the run by the sites' yarn-node-label or kubernetes-node-selector: the driver at "
            + "the server site, the executors on the sites' nodes; what one application cannot express is said in comments. "
            + "jobs/submit --topology FILE adds them.")
    String sparkConf;

    @Override
    public Integer call() {
        Topology t = TopologyLoader.load(file);
        if (sparkConf != null) {
            List<String> lines = switch (sparkConf) {
                case "yarn" -> SubmitConf.yarn(t);
                case "k8s" -> SubmitConf.kubernetes(t);
                default -> throw new TopologyException("--spark-conf takes yarn or k8s, not '" + sparkConf + "'");
            };
            lines.forEach(System.out::println);
            return 0;
        }
        if (workers) {
            for (Topology.Site s : t.sites().values()) {
                if (s.executors().hosts().isEmpty()) {
                    throw new TopologyException(file + ": sites." + s.id() + ".executors.hosts is empty; the local test-bed "
                            + "binds each site's worker to the site's first host (a loopback address such as 127.0.0.2)");
                }
                System.out.println(s.id() + " " + s.executors().hosts().get(0) + " " + (s.id().equals(t.serverSite()) ? 2 : 1));
            }
            return 0;
        }
        System.out.printf("%s (%s): %d sites, server part at %s%n", t.name(), t.source(), t.sites().size(), t.serverSite());
        System.out.printf("%-10s %-8s %-22s %-5s %-6s %-28s %s%n", "site", "label", "hosts", "gpus", "speed", "link to " + t.serverSite(), "data");
        for (Topology.Site s : t.sites().values()) {
            System.out.printf("%-10s %-8s %-22s %-5d %-6.2f %-28s %s%n", s.id(), s.executors().label(),
                    String.join(",", s.executors().hosts()), s.compute().gpus(), s.compute().relativeSpeed(), t.link(s.id()),
                    s.data().isEmpty() ? "(the experiment's data.location)" : s.data());
        }
        return 0;
    }
}
