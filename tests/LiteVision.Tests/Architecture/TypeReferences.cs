using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace LiteVision.Tests.Architecture;

/// <summary>One use of a type by another type of the same assembly, named by their full names.</summary>
public readonly record struct TypeReference(string From, string To);

/// <summary>
/// Reads which of an assembly's own types each of its types uses, from the compiled metadata rather than the source:
/// base types, interfaces, generic constraints, field, method, property and local-variable signatures, custom
/// attributes, catch clauses and every type, method and field token in the IL of method bodies. Compiler-generated
/// nested types (closures, iterators, async state machines) count as their outermost declaring type, so a lambda's
/// uses belong to the type that wrote it.
/// </summary>
public static class TypeReferences
{
    /// <summary>All distinct uses between different top-level types of the assembly at <paramref name="assemblyPath"/>.</summary>
    public static IReadOnlyList<TypeReference> Read(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var collector = new Collector(reader, pe);
        return collector.ReadAll();
    }

    private sealed class Collector(MetadataReader reader, PEReader pe)
    {
        private readonly HashSet<TypeReference> _references = [];
        private readonly SignatureTypes _types = new(reader);

        public IReadOnlyList<TypeReference> ReadAll()
        {
            foreach (var handle in reader.TypeDefinitions)
            {
                var from = TopLevelName(handle);
                if (from is null) continue;
                ReadType(from, reader.GetTypeDefinition(handle));
            }
            return [.. _references.OrderBy(r => r.From, StringComparer.Ordinal).ThenBy(r => r.To, StringComparer.Ordinal)];
        }

        private void ReadType(string from, TypeDefinition type)
        {
            AddEntity(from, type.BaseType);
            foreach (var interfaceHandle in type.GetInterfaceImplementations())
                AddEntity(from, reader.GetInterfaceImplementation(interfaceHandle).Interface);
            AddGenericConstraints(from, type.GetGenericParameters());
            AddAttributes(from, type.GetCustomAttributes());

            foreach (var fieldHandle in type.GetFields())
            {
                var field = reader.GetFieldDefinition(fieldHandle);
                AddAll(from, field.DecodeSignature(_types, null));
                AddAttributes(from, field.GetCustomAttributes());
            }
            foreach (var propertyHandle in type.GetProperties())
            {
                var property = reader.GetPropertyDefinition(propertyHandle);
                AddSignature(from, property.DecodeSignature(_types, null));
                AddAttributes(from, property.GetCustomAttributes());
            }
            foreach (var eventHandle in type.GetEvents())
                AddEntity(from, reader.GetEventDefinition(eventHandle).Type);
            foreach (var methodHandle in type.GetMethods())
                ReadMethod(from, reader.GetMethodDefinition(methodHandle));
        }

        private void ReadMethod(string from, MethodDefinition method)
        {
            AddSignature(from, method.DecodeSignature(_types, null));
            AddGenericConstraints(from, method.GetGenericParameters());
            AddAttributes(from, method.GetCustomAttributes());
            foreach (var parameterHandle in method.GetParameters())
                AddAttributes(from, reader.GetParameter(parameterHandle).GetCustomAttributes());
            if (method.RelativeVirtualAddress == 0) return;

            var body = pe.GetMethodBody(method.RelativeVirtualAddress);
            if (!body.LocalSignature.IsNil)
            {
                var locals = reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(_types, null);
                foreach (var local in locals) AddAll(from, local);
            }
            foreach (var region in body.ExceptionRegions)
                AddEntity(from, region.CatchType);
            foreach (var token in IlTokens.Read(body.GetILBytes() ?? []))
                AddEntity(from, MetadataTokens.EntityHandle(token));
        }

        private void AddGenericConstraints(string from, GenericParameterHandleCollection parameters)
        {
            foreach (var parameterHandle in parameters)
            {
                foreach (var constraintHandle in reader.GetGenericParameter(parameterHandle).GetConstraints())
                    AddEntity(from, reader.GetGenericParameterConstraint(constraintHandle).Type);
            }
        }

        private void AddAttributes(string from, CustomAttributeHandleCollection attributes)
        {
            foreach (var attributeHandle in attributes)
                AddEntity(from, reader.GetCustomAttribute(attributeHandle).Constructor);
        }

        private void AddSignature(string from, MethodSignature<ImmutableArray<string>> signature)
        {
            AddAll(from, signature.ReturnType);
            foreach (var parameter in signature.ParameterTypes) AddAll(from, parameter);
        }

        /// <summary>Adds the own types named by a type, member, method-instantiation or signature token.</summary>
        private void AddEntity(string from, EntityHandle handle)
        {
            if (handle.IsNil) return;
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    Add(from, TopLevelName((TypeDefinitionHandle)handle));
                    break;
                case HandleKind.TypeSpecification:
                    AddAll(from, reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(_types, null));
                    break;
                case HandleKind.MethodDefinition:
                    Add(from, TopLevelName(reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.FieldDefinition:
                    Add(from, TopLevelName(reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    AddEntity(from, member.Parent);
                    if (member.GetKind() == MemberReferenceKind.Method)
                        AddSignature(from, member.DecodeMethodSignature(_types, null));
                    else
                        AddAll(from, member.DecodeFieldSignature(_types, null));
                    break;
                case HandleKind.MethodSpecification:
                    var instantiation = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddEntity(from, instantiation.Method);
                    foreach (var argument in instantiation.DecodeSignature(_types, null)) AddAll(from, argument);
                    break;
                case HandleKind.StandaloneSignature:
                    var standalone = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (standalone.GetKind() == StandaloneSignatureKind.Method)
                        AddSignature(from, standalone.DecodeMethodSignature(_types, null));
                    break;
            }
        }

        private void AddAll(string from, ImmutableArray<string> targets)
        {
            foreach (var to in targets) Add(from, to);
        }

        private void Add(string from, string? to)
        {
            if (to is not null && to != from) _references.Add(new TypeReference(from, to));
        }

        /// <summary>The full name of the outermost type declaring <paramref name="handle"/>.</summary>
        private string? TopLevelName(TypeDefinitionHandle handle) => handle.IsNil ? null : _types.TopLevelName(handle);
    }

    /// <summary>Decodes a signature into the full names of the own top-level types it mentions.</summary>
    private sealed class SignatureTypes(MetadataReader reader) : ISignatureTypeProvider<ImmutableArray<string>, object?>
    {
        public string TopLevelName(TypeDefinitionHandle handle)
        {
            var type = reader.GetTypeDefinition(handle);
            while (type.IsNested) type = reader.GetTypeDefinition(type.GetDeclaringType());
            var name = reader.GetString(type.Name);
            var space = reader.GetString(type.Namespace);
            return space.Length == 0 ? name : $"{space}.{name}";
        }

        public ImmutableArray<string> GetTypeFromDefinition(MetadataReader _, TypeDefinitionHandle handle, byte rawTypeKind) => [TopLevelName(handle)];
        public ImmutableArray<string> GetTypeFromReference(MetadataReader _, TypeReferenceHandle handle, byte rawTypeKind) => [];
        public ImmutableArray<string> GetTypeFromSpecification(MetadataReader _, object? context, TypeSpecificationHandle handle, byte rawTypeKind)
            => reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public ImmutableArray<string> GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
        public ImmutableArray<string> GetGenericTypeParameter(object? context, int index) => [];
        public ImmutableArray<string> GetGenericMethodParameter(object? context, int index) => [];
        public ImmutableArray<string> GetSZArrayType(ImmutableArray<string> elementType) => elementType;
        public ImmutableArray<string> GetArrayType(ImmutableArray<string> elementType, ArrayShape shape) => elementType;
        public ImmutableArray<string> GetByReferenceType(ImmutableArray<string> elementType) => elementType;
        public ImmutableArray<string> GetPointerType(ImmutableArray<string> elementType) => elementType;
        public ImmutableArray<string> GetPinnedType(ImmutableArray<string> elementType) => elementType;
        public ImmutableArray<string> GetModifiedType(ImmutableArray<string> modifier, ImmutableArray<string> unmodifiedType, bool isRequired)
            => unmodifiedType.AddRange(modifier);
        public ImmutableArray<string> GetGenericInstantiation(ImmutableArray<string> genericType, ImmutableArray<ImmutableArray<string>> typeArguments)
            => typeArguments.Aggregate(genericType, (all, argument) => all.AddRange(argument));
        public ImmutableArray<string> GetFunctionPointerType(MethodSignature<ImmutableArray<string>> signature)
            => signature.ParameterTypes.Aggregate(signature.ReturnType, (all, parameter) => all.AddRange(parameter));
    }

    /// <summary>The metadata tokens in a method body's IL, found by walking its instructions.</summary>
    private static class IlTokens
    {
        private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes)
            .GetFields()
            .Select(field => (OpCode)field.GetValue(null)!)
            .ToDictionary(code => code.Value, code => code.OperandType);

        public static IEnumerable<int> Read(byte[] il)
        {
            var offset = 0;
            while (offset < il.Length)
            {
                short value = il[offset++];
                if (value == 0xFE) value = (short)(0xFE00 | il[offset++]);
                var operand = Operands[value];
                if (operand is OperandType.InlineTok or OperandType.InlineType or OperandType.InlineMethod
                    or OperandType.InlineField or OperandType.InlineSig)
                {
                    yield return BitConverter.ToInt32(il, offset);
                }
                offset += operand switch
                {
                    OperandType.InlineNone => 0,
                    OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                    OperandType.InlineVar => 2,
                    OperandType.InlineI8 or OperandType.InlineR => 8,
                    OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, offset),
                    _ => 4,
                };
            }
        }
    }
}
