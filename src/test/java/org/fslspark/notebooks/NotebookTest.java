package org.fslspark.notebooks;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.fslspark.metrics.AlignmentRecord;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.metrics.TrafficRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.tools.nsc.Settings;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The notebooks are written for the Almond kernel (Scala 2.12): their code cells, run in order
 * through Scala 2.12's interpreter on the project's classpath, must all succeed on real results.
 */
class NotebookTest {

    @Test
    void resultsNotebookRunsOnAnFslSageRunsTables(@TempDir Path dir) throws Exception {
        Path results = dir.resolve("run");
        SparkSession spark = SparkSession.builder().master("local[2]").appName("notebook-test")
                .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            ResultsWriter w = new ResultsWriter(results.toString(), new Configuration(), "experiment = t", false);
            for (int t = 0; t < 3; t++) {
                w.appendAlignment(List.of(new AlignmentRecord("t", "fsl-sage", t, "osu", 900, 2.0, 0.1, 0.5, 0.8, 1.0, 0.3)));
                w.append(new RoundRecord("t", "fsl-sage", t, 0.5 + 0.1 * t, 1.0 - 0.2 * t, 100, 50, 8, 120, 60,
                                150L * (t + 1), 180L * (t + 1), 2.0, 2.0 * (t + 1), 3.0, 3.0 * (t + 1)),
                        List.of(new TrafficRecord("t", "fsl-sage", t, "osu", "up", "activations", 100, 120, 2)));
            }
            w.finish(spark);

            Object check = run(Path.of("notebooks/results.ipynb"), results,
                    "s\"${rounds.count} ${byLink.count} $hasAlignment\"");
            assertEquals("3 1 true", check);
            assertTrue(Files.size(results.resolve("notebook_accuracy_vs_traffic.png")) > 0);
        } finally {
            spark.stop();
        }
    }

    /**
     * Runs every code cell; fails on the first that does not compile or throws. Returns the value
     * of {@code probe}, an expression evaluated after the cells.
     */
    static Object run(Path notebook, Path results, String probe) throws Exception {
        // A notebook is JSON, and JSON is HOCON: the config library reads it.
        List<? extends Config> cells = ConfigFactory.parseFile(notebook.toFile()).getConfigList("cells");
        Settings settings = new Settings();
        settings.classpath().value_$eq(System.getProperty("java.class.path"));
        settings.usejavacp().value_$eq(true);
        StringWriter out = new StringWriter();
        IMain repl = new IMain(settings, new PrintWriter(out, true));
        try {
            // Cells read FSL_RESULTS; the interpreter sees this JVM's environment, so set it as a value first.
            assertEquals(Results.Success$.MODULE$, repl.interpret("val results = \"" + results + "\""));
            for (Config cell : cells) {
                if (!cell.getString("cell_type").equals("code")) {
                    continue;
                }
                String code = String.join("", cell.getStringList("source"));
                if (code.startsWith("val results =")) {
                    continue;
                }
                Results.Result r = repl.interpret(code);
                assertEquals(Results.Success$.MODULE$, r, "cell failed:\n" + code + "\n--- output ---\n" + out);
            }
            assertEquals(Results.Success$.MODULE$, repl.interpret("val probe = " + probe));
            return repl.valueOfTerm("probe").get();
        } finally {
            repl.close();
        }
    }
}
