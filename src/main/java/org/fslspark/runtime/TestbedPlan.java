package org.fslspark.runtime;

import org.fslspark.testbed.Topology;
import org.fslspark.transport.SiteLink;

import java.io.Serializable;

/**
 * What the tasks of a round need to know about the test-bed: the topology (null without one),
 * whether messages between sites cross emulated links, and whether each site's work must run on
 * that site's own executors (on a cluster; in local mode the one executor stands for every site).
 */
public record TestbedPlan(Topology topology, boolean emulateLinks, boolean placeBySite) implements Serializable {
    public static final TestbedPlan NONE = new TestbedPlan(null, false, false);

    public TestbedPlan {
        if (topology == null && (emulateLinks || placeBySite)) {
            throw new IllegalArgumentException("link emulation and placement by site need a topology");
        }
    }

    /** The emulated link between {@code site} and the server site, or null when links are not emulated. */
    public SiteLink link(String site) {
        return emulateLinks ? topology.link(site) : null;
    }
}
