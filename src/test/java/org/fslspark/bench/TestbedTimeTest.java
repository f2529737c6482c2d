package org.fslspark.bench;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The summary of `fsl bench testbed-time`: times to the first round at the target, and FSL-SAGE's ratios. */
class TestbedTimeTest {
    static RoundRecord round(String algorithm, int t, double accuracy, double seconds, double modelled) {
        return new RoundRecord("x", algorithm, t, accuracy, 0.5, 0, 0, 0, 0, 0, 0, 0, 1, seconds, 1, modelled);
    }

    @Test
    void timesAreTakenAtTheFirstRoundThatReachesTheTarget() {
        TestbedTime b = new TestbedTime();
        b.target = 0.8;
        b.maxRounds = 3;
        Map<String, List<RoundRecord>> r = new LinkedHashMap<>();
        r.put("sl", List.of(round("sl", 0, 0.7, 10, 20), round("sl", 1, 0.81, 30, 40), round("sl", 2, 0.9, 50, 60)));
        r.put("splitfed-v2", List.of(round("splitfed-v2", 0, 0.5, 10, 20), round("splitfed-v2", 1, 0.6, 20, 40)));
        r.put("fsl-sage", List.of(round("fsl-sage", 0, 0.85, 15, 10)));
        String md = b.markdown(r);
        System.out.println(md);
        assertTrue(md.contains("| sl | 3 | 0.9000 | 2 | 30.0 | 40.0 | 0.75 |"), md);
        assertTrue(md.contains("| splitfed-v2 | 2 | 0.6000 | not reached | - | - | - |"), md);
        assertTrue(md.contains("| fsl-sage / sl | 0.50 | 0.25 |"), md);
        assertTrue(md.contains("| fsl-sage / splitfed-v2 | not reached by splitfed-v2 | not reached by splitfed-v2 |"), md);
        String csv = b.csv(r);
        assertTrue(csv.contains("\nsl,0.8,3,2,30.000,40.000,0.7500\n"), csv);
        assertTrue(csv.contains("\nfsl-sage/sl,0.8,,,0.50,0.25,\n"), csv);
    }

    @Test
    void reuseAddsTheAlgorithmsAnEarlierInvocationLeftAndThatAreNotRunNow(@TempDir Path dir) throws Exception {
        for (String algorithm : List.of("sl", "fsl-sage")) {
            new ResultsWriter(dir.resolve(algorithm).toString(), new Configuration(), "c", false)
                    .append(round(algorithm, 0, 0.86, 30, 40), List.of());
        }
        TestbedTime b = new TestbedTime();
        b.out = dir;
        b.algorithms = List.of("fsl-sage", "cse-fsl");
        assertTrue(b.earlierResults().isEmpty(), "only with --reuse");
        b.reuse = true;
        assertEquals(Map.of("sl", List.of(round("sl", 0, 0.86, 30, 40))), b.earlierResults());
    }
}
