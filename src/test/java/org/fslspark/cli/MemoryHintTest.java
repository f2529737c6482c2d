package org.fslspark.cli;

import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryHintTest {
    @Test
    void javaCppRefusingAnAllocationAtItsCapsGetsAHintThatNamesTheSettings() {
        // Above this JVM's maxbytes (the pom's 8G): JavaCPP refuses before allocating anything.
        Throwable refused = assertThrows(Throwable.class, () -> new BytePointer(32L << 30));
        // As it reaches the user: wrapped by the runtime's round error, itself wrapping Spark's.
        Exception wrapped = new IllegalStateException("round 10 failed in 1 attempt(s)",
                new RuntimeException("Job aborted due to stage failure", refused));
        String hint = Main.memoryHint(wrapped);
        assertTrue(hint.contains("FSL_PHYSICAL") && hint.contains("FSL_OFFHEAP") && hint.contains("--resume"), hint);
        assertTrue(hint.contains(System.getProperty("org.bytedeco.javacpp.maxphysicalbytes")), hint);
        assertEquals("", Main.memoryHint(new IllegalStateException("round 10 failed", new RuntimeException("connection reset"))));
    }
}
