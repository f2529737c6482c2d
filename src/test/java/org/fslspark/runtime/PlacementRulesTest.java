package org.fslspark.runtime;

import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.junit.jupiter.api.Test;

import java.io.File;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which site an executor belongs to. This JVM carries no FSL_SITE label and runs on no host of the
 * topology: in local mode it stands for every site; on a cluster with a test-bed it belongs to no
 * site and must refuse every site's work.
 */
class PlacementRulesTest {
    static final Topology AIEDGE = TopologyLoader.load(new File("conf/testbeds/aiedge.conf"));

    @Test
    void anUnlabelledExecutorStandsForEverySiteInLocalMode() {
        assertEquals(Placement.LOCAL, Placement.executorSite(TestbedPlan.NONE));
        TestbedPlan local = new TestbedPlan(AIEDGE, true, false);
        assertEquals(Placement.LOCAL, Placement.executorSite(local));
        Placement.requireSite("iitb", local);
        Placement.requireSite("osu", TestbedPlan.NONE);
    }

    @Test
    void onAClusterAnUnrecognisedExecutorRunsNoSitesWork() {
        TestbedPlan cluster = new TestbedPlan(AIEDGE, true, true);
        assertEquals(Placement.UNKNOWN, Placement.executorSite(cluster));
        Placement.PlacementException e = assertThrows(Placement.PlacementException.class,
                () -> Placement.requireSite("osu", cluster));
        assertTrue(e.getMessage().startsWith("work of site 'osu' was scheduled on an executor on host "), e.getMessage());
        assertTrue(e.getMessage().endsWith(" without a site label, which conf/testbeds/aiedge.conf assigns to no site; "
                + "refusing to run it there"), e.getMessage());
    }

    @Test
    void aTestbedPlanNeedsATopologyForLinksOrPlacement() {
        assertThrows(IllegalArgumentException.class, () -> new TestbedPlan(null, true, false));
        assertThrows(IllegalArgumentException.class, () -> new TestbedPlan(null, false, true));
        assertEquals(null, new TestbedPlan(AIEDGE, false, true).link("iitb"));
        assertEquals(AIEDGE.link("iitb"), new TestbedPlan(AIEDGE, true, true).link("iitb"));
    }
}
