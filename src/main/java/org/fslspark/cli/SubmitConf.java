package org.fslspark.cli;

import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Spark settings that place a run on a topology's sites at submission ({@code fsl topology FILE
 * --spark-conf yarn|k8s}, used by {@code jobs/submit --topology}). A Spark application has one
 * placement rule for all its executors, so only what every site shares can go into it; per-site
 * differences are reported in comments (at run time, tasks are still pinned to each site's executors
 * by label or host, and refuse to run elsewhere).
 */
final class SubmitConf {
    private SubmitConf() {
    }

    /**
     * YARN: the application master (the driver in cluster mode) in the server site's partition. A
     * Spark 3.5 application has one node label expression for all its executors
     * (spark.yarn.executor.nodeLabelExpression), and YARN's expressions name one partition (a node
     * has one), so executors can be held to the sites' nodes by label only when every site shares it.
     * With a label per site the partitions must be non-exclusive: executors then ask for the DEFAULT
     * partition, which YARN serves from idle non-exclusive nodes too. Either way YARN gives every
     * executor the same environment, so an executor's site is known by its NodeManager's host, which
     * the topology must list for every site.
     */
    static List<String> yarn(Topology t) {
        for (Topology.Site s : t.sites().values()) {
            if (s.executors().hosts().isEmpty()) {
                throw new TopologyException(t.source() + ": sites." + s.id() + ".executors.hosts is empty; on YARN every executor"
                        + " gets the same environment, so its site is known by its NodeManager's host only: list the site's"
                        + " NodeManager hosts as `yarn node -list -all` prints them");
            }
        }
        List<String> out = header(t);
        String server = t.site(t.serverSite()).executors().yarnNodeLabel();
        if (!server.isEmpty()) {
            out.add("# the application master (the driver in cluster mode) at the server site " + t.serverSite());
            out.add("spark.yarn.am.nodeLabelExpression=" + server);
        }
        Set<String> labels = new LinkedHashSet<>();
        t.sites().values().forEach(s -> labels.add(s.executors().yarnNodeLabel()));
        if (labels.size() == 1 && !labels.contains("")) {
            out.add("spark.yarn.executor.nodeLabelExpression=" + labels.iterator().next());
        } else {
            out.add("# executors: a label per site (" + labels(t) + "), and one expression per application naming one");
            out.add("# partition: no executor expression; the sites' partitions must be non-exclusive (yarn rmadmin");
            out.add("# -addToClusterNodeLabels \"" + String.join(",", labels.stream().filter(l -> !l.isEmpty())
                    .map(l -> l + "(exclusive=false)").toList()) + "\") so that the executors' requests for the DEFAULT");
            out.add("# partition land on them; each executor's site comes from its host (" + t.source() + ").");
        }
        return out;
    }

    /**
     * Kubernetes: the driver's node selector is the server site's; the executors' holds the selector
     * entries every site shares; per-site entries go to the executor pod template's node affinity.
     */
    static List<String> kubernetes(Topology t) {
        List<String> out = header(t);
        out.add("# the driver at the server site " + t.serverSite());
        t.site(t.serverSite()).executors().kubernetesNodeSelector()
                .forEach((k, v) -> out.add("spark.kubernetes.driver.node.selector." + k + "=" + v));
        Map<String, Set<String>> values = new LinkedHashMap<>();
        for (Topology.Site s : t.sites().values()) {
            s.executors().kubernetesNodeSelector().forEach((k, v) -> values.computeIfAbsent(k, x -> new LinkedHashSet<>()).add(v));
        }
        List<String> perSite = new ArrayList<>();
        values.forEach((k, v) -> {
            boolean everySite = t.sites().values().stream().allMatch(s -> s.executors().kubernetesNodeSelector().containsKey(k));
            if (v.size() == 1 && everySite) {
                out.add("spark.kubernetes.executor.node.selector." + k + "=" + v.iterator().next());
            } else {
                perSite.add(k + " in (" + String.join(", ", v) + ")");
            }
        });
        if (!perSite.isEmpty()) {
            out.add("# executors: per-site node labels (" + String.join("; ", perSite) + ") cannot be one node selector;");
            out.add("# the executor pod template (conf/spark/k8s/executor-pod.yaml) requires and spreads over them.");
        }
        return out;
    }

    private static List<String> header(Topology t) {
        List<String> out = new ArrayList<>();
        out.add("# placement of " + t.name() + " (" + t.source() + "): sites " + String.join(", ", t.siteIds())
                + ", server part at " + t.serverSite());
        out.add("# ask for an executor per site and one more at the server site: spark.executor.instances >= " + (t.sites().size() + 1));
        return out;
    }

    private static String labels(Topology t) {
        List<String> parts = new ArrayList<>();
        t.sites().values().forEach(s -> parts.add(s.id() + ": " + (s.executors().yarnNodeLabel().isEmpty() ? "none" : s.executors().yarnNodeLabel())));
        return String.join(", ", parts);
    }
}
