package org.fslspark.cli;

import com.typesafe.config.ConfigFactory;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The placement settings `fsl topology FILE --spark-conf yarn|k8s` prints (and jobs/submit --topology adds). */
class SubmitConfTest {
    static List<String> settings(List<String> lines) {
        return lines.stream().filter(l -> !l.startsWith("#")).toList();
    }

    @Test
    void theDriverGoesToTheServerSiteAndSharedLabelsToEveryExecutor() {
        Topology aiedge = TopologyLoader.load(new File("conf/testbeds/aiedge.conf"));
        List<String> yarn = SubmitConf.yarn(aiedge);
        assertEquals(List.of("spark.yarn.am.nodeLabelExpression=osu"), settings(yarn));
        assertTrue(yarn.stream().anyMatch(l -> l.startsWith("# executors: the sites' YARN node labels differ")), yarn.toString());
        List<String> k8s = SubmitConf.kubernetes(aiedge);
        assertEquals(List.of("spark.kubernetes.driver.node.selector.fsl-spark/site=osu"), settings(k8s));
        assertTrue(k8s.stream().anyMatch(l -> l.contains("fsl-spark/site in (osu, utaustin, umich, iitb)")), k8s.toString());

        Topology shared = TopologyLoader.parse(ConfigFactory.parseString("server-site = a\n"
                + "sites { a { executors { yarn-node-label = fsl, kubernetes-node-selector { pool = gpu, site = a } } }\n"
                + "        b { executors { label = bee, yarn-node-label = fsl, kubernetes-node-selector { pool = gpu, site = b } } } }\n"
                + "links { a { rtt = 1 ms, throughput-mbps = 10 }, b { rtt = 2 ms, throughput-mbps = 10 } }"), "shared");
        assertEquals(List.of("spark.yarn.am.nodeLabelExpression=fsl", "spark.yarn.executor.nodeLabelExpression=fsl"),
                settings(SubmitConf.yarn(shared)));
        // (a HOCON object keeps no order)
        assertEquals(List.of("spark.kubernetes.driver.node.selector.pool=gpu", "spark.kubernetes.driver.node.selector.site=a",
                "spark.kubernetes.executor.node.selector.pool=gpu"), settings(SubmitConf.kubernetes(shared)).stream().sorted().toList());
    }
}
