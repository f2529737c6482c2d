package org.fslspark.testbed;

import org.fslspark.transport.SiteLink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopologyLoaderTest {
    @TempDir
    Path dir;

    /** Two sites, server at a; each test changes one thing. */
    static final String SITES = """
            sites {
              a { executors { hosts = ["127.0.0.2"] }, compute { gpus = 2, relative-speed = 1.0 } }
              b { executors { label = bee, hosts = ["127.0.0.3"] }, data = "hdfs://b/share" }
            }
            """;
    static final String LINKS = """
            links {
              a { rtt = 0.2 ms, throughput-mbps = 10000 }
              b { rtt = 40 ms, throughput-mbps = 100 }
            }
            """;

    private File write(String text) throws IOException {
        Path f = dir.resolve("t.conf");
        Files.writeString(f, text);
        return f.toFile();
    }

    private String error(String text) throws IOException {
        File f = write(text);
        return assertThrows(TopologyException.class, () -> TopologyLoader.load(f)).getMessage();
    }

    private String file() {
        return dir.resolve("t.conf").toString();
    }

    @Test
    void aiedgeHasTheFourSitesAndTheDefaultLinksOfTestbedMd() {
        Topology t = TopologyLoader.load(new File("conf/testbeds/aiedge.conf"));
        assertEquals("aiedge", t.name());
        assertEquals("osu", t.serverSite());
        assertEquals(List.of("osu", "utaustin", "umich", "iitb"), t.siteIds());
        assertEquals(new SiteLink(0.010, 1e9), t.link("umich"));
        assertEquals(new SiteLink(0.035, 1e9), t.link("utaustin"));
        assertEquals(new SiteLink(0.240, 1e8), t.link("iitb"));
        assertEquals(new SiteLink(0.0002, 1e10), t.link("osu"));
        for (String site : t.siteIds()) {
            assertEquals(site, t.site(site).executors().label());
            assertEquals(site, t.siteOf(site, null));
            assertEquals(Map.of("fsl-spark/site", site), t.site(site).executors().kubernetesNodeSelector());
            assertEquals(site, t.site(site).executors().yarnNodeLabel());
        }
        assertEquals("iitb", t.siteOf(null, "127.0.0.5"));
    }

    @Test
    void defaultsAndValuesOfASmallTopology() throws IOException {
        Topology t = TopologyLoader.load(write("server-site = a\n" + SITES + LINKS));
        assertEquals("t", t.name());
        assertEquals("a", t.site("a").executors().label());
        assertEquals("a", t.site("a").title());
        assertEquals("", t.site("a").data());
        assertEquals(new Topology.Compute(2, 1.0), t.site("a").compute());
        assertEquals(new Topology.Compute(0, 1.0), t.site("b").compute());
        assertEquals("hdfs://b/share", t.site("b").data());
        assertEquals("b", t.siteOf("bee", "127.0.0.3"));
        assertEquals("b", t.siteOf(null, "127.0.0.3"));
        assertNull(t.siteOf("zz", "10.0.0.1"));
        String conflict = assertThrows(TopologyException.class, () -> t.siteOf("bee", "127.0.0.2")).getMessage();
        assertEquals("an executor on host 127.0.0.2 carries the label 'bee' of site 'b', but " + file()
                + " lists its host for site 'a'", conflict);
    }

    @Test
    void unknownSiteInLinksIsNamed() throws IOException {
        assertEquals(file() + ": links.c names an unknown site 'c'; sites: [a, b]",
                error("server-site = a\n" + SITES + LINKS + "links.c { rtt = 5 ms, throughput-mbps = 10 }"));
    }

    @Test
    void missingLinkIsNamed() throws IOException {
        assertEquals(file() + ": links.b is missing: every site needs its link to the server site 'a' (rtt, throughput-mbps)",
                error("server-site = a\n" + SITES + "links { a { rtt = 1 ms, throughput-mbps = 10 } }"));
        assertEquals(file() + ": links.a is missing: every site needs its link to the server site 'a' (rtt, throughput-mbps)"
                        + "; the server site's own entry is its same-site link",
                error("server-site = a\n" + SITES + "links { b { rtt = 1 ms, throughput-mbps = 10 } }"));
        assertEquals(file() + ": links.b.throughput-mbps is missing: the throughput in Mbit/s, e.g. throughput-mbps = 1000",
                error("server-site = a\n" + SITES + LINKS + "links.b = null\nlinks.b = { rtt = 1 ms }"));
    }

    @Test
    void serverSiteMustBeASite() throws IOException {
        assertEquals(file() + ": server-site = 'osu' is not one of the sites [a, b]", error("server-site = osu\n" + SITES + LINKS));
        assertEquals(file() + ": server-site is missing: name the site that hosts the server part", error(SITES + LINKS));
    }

    @Test
    void nonPositiveFiguresAreRefused() throws IOException {
        String base = "server-site = a\n" + SITES + LINKS;
        assertEquals(file() + ": links.b.rtt must be > 0, got 0 ms", error(base + "links.b.rtt = 0 ms"));
        assertEquals(file() + ": links.b.throughput-mbps must be > 0, got -5.0", error(base + "links.b.throughput-mbps = -5"));
        assertEquals(file() + ": sites.a.compute.relative-speed must be > 0, got 0.0", error(base + "sites.a.compute.relative-speed = 0"));
        assertEquals(file() + ": sites.b.compute.gpus must be >= 0, got -1", error(base + "sites.b.compute.gpus = -1"));
        String notADuration = error(base + "links.b.rtt = fast");
        assertEquals(file() + ": links.b.rtt must be a duration such as 10 ms: ",
                notADuration.substring(0, (file() + ": links.b.rtt must be a duration such as 10 ms: ").length()));
    }

    @Test
    void aHostOrLabelBelongsToOneSite() throws IOException {
        String base = "server-site = a\n" + SITES + LINKS;
        assertEquals(file() + ": sites.b.executors.hosts lists host 127.0.0.2, which sites.a.executors.hosts lists too;"
                + " a host belongs to one site", error(base + "sites.b.executors.hosts = [\"127.0.0.2\"]"));
        assertEquals(file() + ": sites.a.executors.hosts lists host 127.0.0.9 twice",
                error(base + "sites.a.executors.hosts = [\"127.0.0.9\", \"127.0.0.9\"]"));
        assertEquals(file() + ": sites.b.executors.label = 'a' is the label of site 'a' too; a label belongs to one site",
                error(base + "sites.b.executors.label = a"));
    }

    @Test
    void unknownKeysAndBadIdsAreNamed() throws IOException {
        String base = "server-site = a\n" + SITES + LINKS;
        assertEquals(file() + ": unknown key [sites.a.gpus]; allowed under sites.a: compute, data, executors, title",
                error(base + "sites.a.gpus = 3"));
        assertEquals(file() + ": unknown key [links.b.latency]; allowed under links.b: rtt, throughput-mbps",
                error(base + "links.b.latency = 3 ms"));
        assertEquals(file() + ": unknown key [server]; allowed: links, name, server-site, sites", error(base + "server = a"));
        assertEquals(file() + ": sites.Big 'Big' is not a site id (lower-case letters, digits, - and _)",
                error(base + "sites.Big {}"));
    }

    @Test
    void missingOrMalformedFileIsNamed() throws IOException {
        String missing = assertThrows(TopologyException.class, () -> TopologyLoader.load(dir.resolve("none.conf").toFile())).getMessage();
        assertTrue(missing.startsWith("topology file " + dir.resolve("none.conf") + " does not exist (looked for "
                + dir.resolve("none.conf") + " on the local file system of "), missing);
        String m = error("sites { a { ");
        assertEquals("cannot parse " + file() + ": ", m.substring(0, ("cannot parse " + file() + ": ").length()));
    }
}
