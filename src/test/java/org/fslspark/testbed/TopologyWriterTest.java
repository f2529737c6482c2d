package org.fslspark.testbed;

import com.typesafe.config.ConfigFactory;
import org.fslspark.transport.SiteLink;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A topology rewritten with new links reads back with those links and everything else as it was. */
class TopologyWriterTest {
    static final Path AIEDGE = Path.of("conf/testbeds/aiedge.conf");

    static Map<String, SiteLink> measured() {
        Map<String, SiteLink> links = new LinkedHashMap<>();
        links.put("osu", new SiteLink(0.000123, 8.5e9));
        links.put("umich", new SiteLink(0.0125, 940e6));
        links.put("utaustin", new SiteLink(0.0361, 910e6));
        links.put("iitb", new SiteLink(0.2455, 97.3e6));
        return links;
    }

    static Topology parse(String text) {
        return TopologyLoader.parse(ConfigFactory.parseString(text).resolve(), "test");
    }

    @Test
    void theLinksBlockIsReplacedAndTheRestKept() throws IOException {
        String text = Files.readString(AIEDGE);
        String written = TopologyWriter.withLinks(text, measured(), TopologyWriter.MEASURED + " now\nsecond line", Map.of("iitb", "a note"));
        Topology before = parse(text);
        Topology after = parse(written);
        assertEquals(before.sites(), after.sites());
        assertEquals(before.serverSite(), after.serverSite());
        assertEquals(measured(), after.links());
        assertTrue(written.contains("# " + TopologyWriter.MEASURED + " now\n# second line\nlinks {\n"), written);
        assertTrue(written.contains("  iitb     { rtt = 245.500 ms, throughput-mbps = 97.3 }  # a note\n"), written);
        assertEquals(1, written.split("\nlinks \\{").length - 1, "one links block");
        // Everything above the block is unchanged.
        int block = text.indexOf("\nlinks {");
        assertEquals(text.substring(0, block), written.substring(0, block));
        // Written again: the old header and figures go.
        String again = TopologyWriter.withLinks(written, before.links(), TopologyWriter.MEASURED + " later", Map.of());
        assertFalse(again.contains(" now\n"), again);
        assertFalse(again.contains("second line"), again);
        assertEquals(before.links(), parse(again).links());
    }

    @Test
    void dottedLinksAreOverriddenByAnAppendedBlock() {
        String text = "server-site = a\nsites { a {}, b {} }\n# links { not this }\nlinks.a { rtt = 1 ms, throughput-mbps = 10 }\n"
                + "links.b { rtt = 2 ms, throughput-mbps = 10 }\n";
        Map<String, SiteLink> links = Map.of("a", new SiteLink(0.005, 5e6), "b", new SiteLink(0.007, 7e6));
        String written = TopologyWriter.withLinks(text, new LinkedHashMap<>(links), "h", Map.of());
        assertTrue(written.startsWith(text), written);
        assertEquals(links, parse(written).links());
    }
}
