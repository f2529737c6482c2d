package org.fslspark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Local files are written without Hadoop's local file system, and Hadoop still reads them right. */
class HadoopFilesTest {
    @TempDir
    java.nio.file.Path dir;

    @Test
    void aFileHadoopWroteWithAChecksumIsReplacedAndReadsBackThroughHadoop() throws IOException {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        Path file = new Path(dir.toString(), "results/rounds.csv");
        try (FSDataOutputStream out = fs.create(file, true)) {
            out.write("old contents, longer than the new".getBytes(StandardCharsets.UTF_8));
        }
        assertTrue(Files.exists(dir.resolve("results/.rounds.csv.crc")), "Hadoop's local file system writes a checksum");

        HadoopFiles.replace(fs, file, "new".getBytes(StandardCharsets.UTF_8));
        assertEquals("new", read(fs, file)); // a stale checksum would fail this read
        HadoopFiles.write(fs, file, "newer".getBytes(StandardCharsets.UTF_8));
        assertEquals("newer", read(fs, file));
        try (var listing = Files.list(dir.resolve("results"))) {
            assertEquals(java.util.List.of("rounds.csv"), listing.map(p -> p.getFileName().toString()).toList(),
                    "no temporary file or checksum is left");
        }

        Path nested = new Path(dir.toString(), "state/round-0/executors/osu.frame");
        HadoopFiles.write(fs, nested, new byte[]{1, 2, 3});
        assertEquals(3, fs.getFileStatus(nested).getLen(), "parents are created as Hadoop's create does");
        assertFalse(Files.exists(dir.resolve("state/round-0/executors/.osu.frame.crc")));
    }

    private static String read(FileSystem fs, Path p) throws IOException {
        try (FSDataInputStream in = fs.open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
