package org.fslspark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResultsWriterTest {
    @TempDir
    Path dir;

    @Test
    void unwritableOutputLocationIsNamedAndNothingIsWritten() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Path out = file.resolve("results");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ResultsWriter(out.toString(), new Configuration(), "c", false));
        assertTrue(e.getMessage().startsWith("cannot write to output location " + out), e.getMessage());
        assertEquals("x", Files.readString(file));
    }

    @Test
    void existingOutputIsKeptUnlessOverwriteIsAsked() throws Exception {
        Path out = Files.createDirectory(dir.resolve("out"));
        Files.writeString(out.resolve("rounds.csv"), "earlier run");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ResultsWriter(out.toString(), new Configuration(), "c", false));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertEquals("earlier run", Files.readString(out.resolve("rounds.csv")));
        new ResultsWriter(out.toString(), new Configuration(), "c", true);
        assertFalse(Files.exists(out.resolve("rounds.csv")));
        assertEquals("c", Files.readString(out.resolve("config")));
    }

    @Test
    void csvHasOneRowPerRoundAfterEveryRound() throws Exception {
        ResultsWriter w = new ResultsWriter(dir.resolve("o").toString(), new Configuration(), "c", false);
        RoundRecord r = new RoundRecord("x", "sl", 0, 0.5, 1.2, 10, 20, 4, 11, 21, 30, 32, 1.5, 1.5, 3.25, 2.25, 2.25, "osu;iitb");
        w.append(r, List.of(new TrafficRecord("x", "sl", 0, "osu", "up", "activations", 10, 11, 1, "float32")));
        List<String> lines = Files.readAllLines(dir.resolve("o/rounds.csv"));
        assertEquals(String.join(",", RoundRecord.COLUMNS), lines.get(0));
        assertEquals("x,sl,0,0.5,1.2,10,20,4,11,21,30,32,1.5,1.5,3.25,2.25,2.25,osu;iitb", lines.get(1));
        assertEquals(List.of(r), ResultsWriter.readRounds(dir.resolve("o/rounds.csv")));
        assertEquals(Math.exp(1.2), new RoundRecord("x", "sl", 0, 0.5, 1.2, 10, 20, 4, 11, 21, 30, 32, 1.5, 1.5, 2.25, 2.25).testPerplexity());
        assertEquals(2, Files.readAllLines(dir.resolve("o/traffic.csv")).size());
    }

    @Test
    void roundsReadBackAsWritten() throws Exception {
        ResultsWriter w = new ResultsWriter(dir.resolve("run").toString(), new Configuration(), "c", false);
        RoundRecord a = new RoundRecord("e", "fsl-sage", 0, 0.8123, 0.51, 1, 2, 3, 4, 5, 3, 9, 1.25, 1.25, 1.0, 1.0);
        RoundRecord b = new RoundRecord("e", "fsl-sage", 1, 0.8501, 0.42, 1, 2, 3, 4, 5, 6, 18, 1.5, 2.75, 1.125, 2.125);
        w.append(a, List.of());
        w.append(b, List.of());
        assertEquals(List.of(a, b), ResultsWriter.readRounds(dir.resolve("run").resolve("rounds.csv")));
    }
}
