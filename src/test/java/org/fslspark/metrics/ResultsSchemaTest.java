package org.fslspark.metrics;

import org.apache.spark.sql.types.DataType;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** data-schemas/ is the documented truth of the results tables; the writer must match it. */
class ResultsSchemaTest {
    @Test
    void resultsTablesMatchTheDocumentedSchemas() throws Exception {
        assertEquals(DataType.fromJson(Files.readString(Path.of("data-schemas/rounds.json"))), ResultsWriter.ROUNDS);
        assertEquals(DataType.fromJson(Files.readString(Path.of("data-schemas/traffic.json"))), ResultsWriter.TRAFFIC);
        assertEquals(DataType.fromJson(Files.readString(Path.of("data-schemas/alignment.json"))), ResultsWriter.ALIGNMENT);
        assertEquals(DataType.fromJson(Files.readString(Path.of("data-schemas/events.json"))), ResultsWriter.EVENTS);
    }
}
