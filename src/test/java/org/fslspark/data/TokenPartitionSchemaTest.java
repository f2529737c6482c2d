package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** data-schemas/token-partition.json is the documented schema of a text share; the code must write exactly it. */
class TokenPartitionSchemaTest {
    private static final Path SCHEMA = Path.of("data-schemas/token-partition.json");

    @TempDir
    Path dir;

    private static StructType documented() throws IOException {
        return (StructType) DataType.fromJson(Files.readString(SCHEMA));
    }

    @Test
    void theParquetSchemaTheCodeWritesIsTheDocumentedOne() throws IOException {
        MessageType written = TokenStore.schema();
        StructType doc = documented();
        assertEquals(doc.fields().length, written.getFieldCount());
        for (int i = 0; i < doc.fields().length; i++) {
            StructField f = doc.fields()[i];
            Type t = written.getType(i);
            assertEquals(f.name(), t.getName());
            assertEquals(f.nullable(), !t.isRepetition(Type.Repetition.REQUIRED), f.name());
            if (f.dataType() instanceof ArrayType a) {
                // A three-level Parquet LIST of required int32.
                assertEquals(LogicalTypeAnnotation.listType(), t.getLogicalTypeAnnotation(), f.name());
                Type element = t.asGroupType().getType(0).asGroupType().getType(0);
                assertEquals(DataTypes.IntegerType, a.elementType());
                assertEquals("INT32", element.asPrimitiveType().getPrimitiveTypeName().name());
                assertEquals(a.containsNull(), !element.isRepetition(Type.Repetition.REQUIRED));
            } else {
                assertEquals(DataTypes.LongType, f.dataType(), f.name());
                assertEquals("INT64", t.asPrimitiveType().getPrimitiveTypeName().name(), f.name());
            }
        }
    }

    @Test
    void sparkReadsAPreparedTokenShareWithTheDocumentedSchema() throws IOException {
        int[] tokens = new int[3 * 5];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 37) % 257;
        }
        TokenSequences data = new TokenSequences(4, 257, tokens, new long[]{10, 11, 12}, new long[]{0, 0, 1}, "test");
        Path loc = dir.resolve("osu");
        TokenStore.write(new Configuration(), TestData.hadoop(loc), "osu", "synthetic", "byte", data, false);
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(org.apache.logging.log4j.Level.WARN);
        SparkSession spark = SparkSession.builder().master("local[1]").appName("schema-test")
                .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate();
        try {
            Dataset<Row> df = spark.read().parquet(loc.toString());
            StructType doc = documented();
            assertEquals(List.of(doc.fieldNames()), List.of(df.schema().fieldNames()));
            for (StructField f : doc.fields()) {
                DataType read = df.schema().apply(f.name()).dataType();
                if (f.dataType() instanceof ArrayType a) {
                    // Spark reads every file column as nullable; the element type is what the schema fixes.
                    assertTrue(read instanceof ArrayType, f.name() + ": " + read);
                    assertEquals(a.elementType(), ((ArrayType) read).elementType(), f.name());
                } else {
                    assertEquals(f.dataType(), read, f.name());
                }
            }
            List<Row> rows = df.orderBy("sequence_id").collectAsList();
            assertEquals(3, rows.size());
            for (int i = 0; i < 3; i++) {
                assertEquals(10 + i, rows.get(i).getLong(0));
                assertEquals(data.documents()[i], rows.get(i).getLong(1));
                List<Integer> seq = rows.get(i).getList(2);
                assertEquals(5, seq.size());
                for (int j = 0; j < 5; j++) {
                    assertEquals(tokens[i * 5 + j], seq.get(j));
                }
            }
        } finally {
            spark.stop();
        }
    }
}
