package org.fslspark.notebooks;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.AlignmentRecord;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.metrics.TrafficRecord;
import org.fslspark.runtime.Fixtures;
import org.fslspark.runtime.Sparks;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.tools.nsc.Settings;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The notebooks, written for the Almond kernel (Scala 2.12), and their Zeppelin twins ({@code %spark}
 * paragraphs): every code cell and paragraph, run in order through Scala 2.12's interpreter on the
 * project's classpath, must succeed on real runs. A notebook's parameters cell (tagged {@code parameters};
 * in Zeppelin, the paragraph titled so) is replaced by the test's own, pointing at small runs; Zeppelin's
 * {@code spark} is this class's session, as the interpreter would provide one.
 */
@Tag("e2e")
class NotebookTest {
    @TempDir
    static Path dir;
    static SparkSession spark;
    /** The test's overrides of a notebook's experiment: a small real Fashion-MNIST run. */
    static String settings;

    @BeforeAll
    static void start() throws Exception {
        spark = Sparks.session(ExperimentLoader.load(null, List.of("spark.master=local[5]")));
        settings = scalaSeq(Fixtures.smallTestSet(dir, 500), "data.train-subset=400", "train.batch-size=50",
                "train.eval-batch-size=500", "data.location=\"" + dir.resolve("data") + "\"");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void resultsNotebookAndNoteRunOnAnFslSageRunsTables() throws Exception {
        Path results = dir.resolve("run");
        ResultsWriter w = new ResultsWriter(results.toString(), new Configuration(), "experiment = t", false);
        for (int t = 0; t < 3; t++) {
            w.appendAlignment(List.of(new AlignmentRecord("t", "fsl-sage", t, "osu", 900, 2.0, 0.1, 0.5, 0.8, 1.0, 0.3)));
            w.append(new RoundRecord("t", "fsl-sage", t, 0.5 + 0.1 * t, 1.0 - 0.2 * t, 100, 50, 8, 120, 60,
                            150L * (t + 1), 180L * (t + 1), 2.0, 2.0 * (t + 1), 3.0, 3.0 * (t + 1)),
                    List.of(new TrafficRecord("t", "fsl-sage", t, "osu", "up", "activations", 100, 120, 2, "float32")));
        }
        w.finish(spark);
        String parameters = "val results = \"" + results + "\"";
        String probe = "s\"${rounds.count} ${byLink.count} $hasAlignment\"";
        assertEquals("3 1 true", jupyter("notebooks/results.ipynb", parameters, probe));
        assertTrue(Files.size(results.resolve("notebook_accuracy_vs_traffic.png")) > 0);
        Files.delete(results.resolve("notebook_accuracy_vs_traffic.png"));
        assertEquals("3 1 true", zeppelin("notebooks/zeppelin/results.zpln", parameters, probe));
        assertTrue(Files.size(results.resolve("notebook_accuracy_vs_traffic.png")) > 0);
    }

    /** Defines, prepares and runs a two-round experiment with per-round output, then its plots. */
    @Test
    void experimentNotebookAndNoteDefineRunAndPlotAnExperiment() throws Exception {
        for (String notebook : List.of("notebooks/experiment.ipynb", "notebooks/zeppelin/experiment.zpln")) {
            Path out = dir.resolve(notebook.endsWith(".zpln") ? "exp-zeppelin" : "exp-jupyter");
            String parameters = "val config = \"conf/quickstart.conf\"\nval out = \"" + out + "\"\nval settings = " + settings
                    + " :+ \"train.rounds=2\"";
            String probe = "s\"${rounds.count} ${written.size} ${run.records.get(1).round}\"";
            assertEquals("2 2 1", notebook.endsWith(".zpln") ? zeppelin(notebook, parameters, probe)
                    : jupyter(notebook, parameters, probe));
            for (String png : List.of("notebook_accuracy_vs_traffic.png", "notebook_accuracy_vs_time.png")) {
                assertTrue(Files.size(out.resolve(png)) > 0, png);
            }
            assertEquals(3, Files.readAllLines(out.resolve("rounds.csv")).size(), "rounds.csv of " + notebook);
        }
    }

    /**
     * A sweep of two algorithms over two seeds, one round each; the Zeppelin note then runs the same sweep into the
     * same location and reuses every run.
     */
    @Test
    void sweepNotebookAndNoteCompareAlgorithmsAcrossSeeds() throws Exception {
        Path out = dir.resolve("sweep");
        String parameters = "val config = \"conf/quickstart.conf\"\nval out = \"" + out + "\"\nval grid = Seq(\"algorithm=[fedavg,sl]\")"
                + "\nval seeds = 2\nval settings = " + settings + " :+ \"train.rounds=1\"";
        String probe = "Seq(result.runs.size, perRound.count, perRound.filter(col(\"n\") === 2).count).mkString(\" \")";
        assertEquals("4 2 2", jupyter("notebooks/sweep.ipynb", parameters, probe));
        assertTrue(Files.size(out.resolve("notebook_accuracy_vs_traffic.png")) > 0);
        String csv = Files.readString(out.resolve("sweep.csv"));
        assertEquals("4 2 2", zeppelin("notebooks/zeppelin/sweep.zpln", parameters, probe));
        assertEquals(csv, Files.readString(out.resolve("sweep.csv")), "the note ran again what the notebook had finished");
    }

    /** A Scala {@code Seq} of string literals. */
    private static String scalaSeq(String... values) {
        List<String> quoted = new ArrayList<>();
        for (String v : values) {
            quoted.add("\"\"\"" + v + "\"\"\"");
        }
        return "Seq(" + String.join(", ", quoted) + ")";
    }

    /** Runs a Jupyter notebook's code cells, its parameters cell replaced by {@code parameters}; returns {@code probe}'s value. */
    static Object jupyter(String notebook, String parameters, String probe) throws Exception {
        // A notebook is JSON, and JSON is HOCON: the config library reads it.
        List<String> code = new ArrayList<>();
        for (Config cell : ConfigFactory.parseFile(Path.of(notebook).toFile()).getConfigList("cells")) {
            boolean isParameters = cell.hasPath("metadata.tags") && cell.getStringList("metadata.tags").contains("parameters");
            if (cell.getString("cell_type").equals("code") && !isParameters) {
                code.add(String.join("", cell.getStringList("source")));
            }
        }
        return interpret(notebook, parameters, code, probe);
    }

    /** Runs a Zeppelin note's {@code %spark} paragraphs with {@code spark} bound, the "parameters" paragraph replaced. */
    static Object zeppelin(String note, String parameters, String probe) throws Exception {
        List<String> code = new ArrayList<>(List.of("val spark = org.apache.spark.sql.SparkSession.builder.getOrCreate()"));
        for (Config p : ConfigFactory.parseFile(Path.of(note).toFile()).getConfigList("paragraphs")) {
            String text = p.getString("text");
            boolean isParameters = p.hasPath("title") && p.getString("title").equals("parameters");
            if (text.startsWith("%spark\n") && !isParameters) {
                code.add(text.substring("%spark\n".length()));
            } else if (!text.startsWith("%md\n") && !isParameters) {
                throw new AssertionError(note + ": a paragraph neither %spark nor %md:\n" + text);
            }
        }
        return interpret(note, parameters, code, probe);
    }

    /** Interprets {@code parameters}, then every piece of {@code code} in order; fails on the first that does not compile or throws. */
    private static Object interpret(String source, String parameters, List<String> code, String probe) {
        Settings settings = new Settings();
        settings.classpath().value_$eq(System.getProperty("java.class.path"));
        settings.usejavacp().value_$eq(true);
        StringWriter out = new StringWriter();
        IMain repl = new IMain(settings, new PrintWriter(out, true));
        try {
            assertEquals(Results.Success$.MODULE$, repl.interpret(parameters), "parameters:\n" + parameters + "\n" + out);
            for (String c : code) {
                assertEquals(Results.Success$.MODULE$, repl.interpret(c), source + ": cell failed:\n" + c + "\n--- output ---\n" + out);
            }
            assertEquals(Results.Success$.MODULE$, repl.interpret("val probe = " + probe), out.toString());
            return repl.valueOfTerm("probe").get();
        } finally {
            repl.close();
        }
    }
}
