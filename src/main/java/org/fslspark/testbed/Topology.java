package org.fslspark.testbed;

import org.fslspark.transport.SiteLink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A federation: its sites, the site that hosts the server part, and each site's link to the server
 * site (the server site's own entry is its same-site link). Built and validated by
 * {@link TopologyLoader}; the file format is documented in conf/testbeds/aiedge.conf.
 *
 * @param source     the file it was read from, for messages
 * @param sites      by site id, in file order
 * @param links      by site id: that site's link to the server site
 */
public record Topology(String source, String name, String serverSite, Map<String, Site> sites,
                       Map<String, SiteLink> links) implements Serializable {

    /**
     * A site of the federation.
     *
     * @param data location of the site's prepared partition (any Hadoop URI); empty means the
     *             experiment's {@code data.location}/&lt;site&gt;
     */
    public record Site(String id, String title, Executors executors, String data, Compute compute)
            implements Serializable {
    }

    /**
     * How a site's executors are recognised: by the label its executors carry in the environment
     * variable FSL_SITE, or by their host. The Kubernetes node selector and YARN node label say where
     * a cluster manager must start them (used by the submission configs, not at run time).
     */
    public record Executors(String label, List<String> hosts, Map<String, String> kubernetesNodeSelector,
                            String yarnNodeLabel) implements Serializable {
    }

    /** A site's compute: GPUs it contributes and its speed relative to the reference site (1.0). */
    public record Compute(int gpus, double relativeSpeed) implements Serializable {
    }

    public List<String> siteIds() {
        return new ArrayList<>(sites.keySet());
    }

    public Site site(String id) {
        Site s = sites.get(id);
        if (s == null) {
            throw new TopologyException(source + ": '" + id + "' is not a site (sites: " + String.join(", ", sites.keySet()) + ")");
        }
        return s;
    }

    /** The site's link to the server site. */
    public SiteLink link(String site) {
        site(site);
        return links.get(site);
    }

    /**
     * The site an executor belongs to, from the label it reports (FSL_SITE, null if none) and its
     * host; null when neither is known to the topology.
     *
     * @throws TopologyException when the label and the host name different sites
     */
    public String siteOf(String label, String host) {
        String byLabel = null;
        String byHost = null;
        for (Site s : sites.values()) {
            if (label != null && s.executors().label().equals(label)) {
                byLabel = s.id();
            }
            if (host != null && s.executors().hosts().contains(host)) {
                byHost = s.id();
            }
        }
        if (byLabel != null && byHost != null && !byLabel.equals(byHost)) {
            throw new TopologyException("an executor on host " + host + " carries the label '" + label + "' of site '"
                    + byLabel + "', but " + source + " lists its host for site '" + byHost + "'");
        }
        return byLabel != null ? byLabel : byHost;
    }
}
