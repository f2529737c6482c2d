package org.fslspark.cli;

import com.typesafe.config.ConfigFactory;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyException;
import org.fslspark.testbed.TopologyLoader;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
        assertTrue(String.join("\n", yarn).contains("-addToClusterNodeLabels \"osu(exclusive=false),utaustin(exclusive=false),"
                + "umich(exclusive=false),iitb(exclusive=false)\""), yarn.toString());
        List<String> k8s = SubmitConf.kubernetes(aiedge);
        assertEquals(List.of("spark.kubernetes.driver.node.selector.fsl-spark/site=osu"), settings(k8s));
        assertTrue(k8s.stream().anyMatch(l -> l.contains("fsl-spark/site in (osu, utaustin, umich, iitb)")), k8s.toString());

        Topology shared = TopologyLoader.parse(ConfigFactory.parseString("server-site = a\n"
                + "sites { a { executors { hosts = [nm1], yarn-node-label = fsl, kubernetes-node-selector { pool = gpu, site = a } } }\n"
                + "        b { executors { label = bee, hosts = [nm2], yarn-node-label = fsl, kubernetes-node-selector { pool = gpu, site = b } } } }\n"
                + "links { a { rtt = 1 ms, throughput-mbps = 10 }, b { rtt = 2 ms, throughput-mbps = 10 } }"), "shared");
        assertEquals(List.of("spark.yarn.am.nodeLabelExpression=fsl", "spark.yarn.executor.nodeLabelExpression=fsl"),
                settings(SubmitConf.yarn(shared)));
        // On YARN a site without hosts cannot be recognised (every executor has the same environment).
        Topology labelsOnly = TopologyLoader.parse(ConfigFactory.parseString("server-site = a\n"
                + "sites { a { executors { yarn-node-label = a } }, b { executors { yarn-node-label = b } } }\n"
                + "links { a { rtt = 1 ms, throughput-mbps = 10 }, b { rtt = 2 ms, throughput-mbps = 10 } }"), "labels-only");
        String refused = assertThrows(TopologyException.class, () -> SubmitConf.yarn(labelsOnly)).getMessage();
        assertTrue(refused.contains("sites.a.executors.hosts is empty"), refused);
        // (a HOCON object keeps no order)
        assertEquals(List.of("spark.kubernetes.driver.node.selector.pool=gpu", "spark.kubernetes.driver.node.selector.site=a",
                "spark.kubernetes.executor.node.selector.pool=gpu"), settings(SubmitConf.kubernetes(shared)).stream().sorted().toList());
    }
}
