//! `#[derive(Replicated)]`: turns a game's entity state (a struct of plain wire fields) into
//! something ticksync can replicate — a per-field delta type whose encoding carries only the
//! fields that changed, dead reckoning for positions advanced by a velocity field, the
//! checksum of the fields in declaration order, the position the area-of-interest policy
//! reads, and a description of all of that for clients in other languages.
//!
//! ```ignore
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Replicated)]
//! #[replicated(position_scale = 64)]
//! pub struct Ship {
//!     #[replicated(predict = vx, interest_x)]
//!     pub x: i32,
//!     #[replicated(predict = vy, interest_y)]
//!     pub y: i32,
//!     pub vx: i16,
//!     pub vy: i16,
//!     pub health: u8,
//! }
//! ```
//!
//! generates `ShipDelta { x: Option<i32>, … }` and `impl Replicated for Ship`. The code it
//! writes only calls `ticksync_protocol::replicated::derive_support`, so its rules (and
//! their tests) live in the protocol crate, not here.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Fields, Ident, LitInt, LitStr, Path};

/// Most fields an entity may have: the delta's field mask is a `u64`.
const MAX_FIELDS: usize = 64;

#[proc_macro_derive(Replicated, attributes(replicated))]
pub fn derive_replicated(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// One field of the entity, with what its attributes say.
struct Field {
    ident: Ident,
    ty: syn::Type,
    /// The field this one is advanced by every tick (dead reckoning).
    predict: Option<Ident>,
    interest_x: bool,
    interest_y: bool,
}

/// What the struct-level attribute says.
struct Options {
    krate: Path,
    position_scale: u32,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Replicated)] does not support generic entity types",
        ));
    }
    let options = parse_options(input)?;
    let fields = parse_fields(input)?;
    check_fields(&fields, input)?;
    let Options {
        krate,
        position_scale,
    } = &options;
    let support = quote!(#krate::replicated::derive_support);
    let name = &input.ident;
    let vis = &input.vis;
    let delta = format_ident!("{}Delta", name);
    let field_count = fields.len();
    let idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    let types: Vec<&syn::Type> = fields.iter().map(|f| &f.ty).collect();
    let names: Vec<String> = idents.iter().map(|i| i.to_string()).collect();
    let bits: Vec<u64> = (0..field_count).map(|i| 1u64 << i).collect();

    let predict_fields = fields.iter().map(|f| {
        let ident = &f.ident;
        match &f.predict {
            Some(velocity) => {
                quote!(#ident: #support::advance(self.#ident, self.#velocity, ticks))
            }
            None => quote!(#ident: ::core::clone::Clone::clone(&self.#ident)),
        }
    });
    let diff_fields = fields.iter().map(|f| {
        let ident = &f.ident;
        match &f.predict {
            Some(_) => quote!(#ident: (self.#ident != predicted.#ident)
                .then(|| #support::offset(self.#ident, predicted.#ident))),
            None => quote!(#ident: (self.#ident != predicted.#ident)
                .then(|| ::core::clone::Clone::clone(&self.#ident))),
        }
    });
    let apply_fields = fields.iter().map(|f| {
        let ident = &f.ident;
        match &f.predict {
            Some(_) => quote!(#ident: match &delta.#ident {
                ::core::option::Option::Some(offset) => #support::add_offset(predicted.#ident, *offset),
                ::core::option::Option::None => predicted.#ident,
            }),
            None => quote!(#ident: match &delta.#ident {
                ::core::option::Option::Some(value) => ::core::clone::Clone::clone(value),
                ::core::option::Option::None => ::core::clone::Clone::clone(&predicted.#ident),
            }),
        }
    });
    let position = match (
        fields.iter().find(|f| f.interest_x),
        fields.iter().find(|f| f.interest_y),
    ) {
        (Some(x), Some(y)) => {
            let (x, y) = (&x.ident, &y.ident);
            quote!(::core::option::Option::Some((
                #support::coordinate(self.#x),
                #support::coordinate(self.#y),
            )))
        }
        _ => quote!(::core::option::Option::None),
    };
    let describe_fields = fields.iter().map(|f| {
        let ty = &f.ty;
        let name = f.ident.to_string();
        let predict = match &f.predict {
            Some(velocity) => {
                let velocity = velocity.to_string();
                quote!(::core::option::Option::Some(#velocity))
            }
            None => quote!(::core::option::Option::None),
        };
        let interest = if f.interest_x {
            quote!(::core::option::Option::Some(#krate::describe::Axis::X))
        } else if f.interest_y {
            quote!(::core::option::Option::Some(#krate::describe::Axis::Y))
        } else {
            quote!(::core::option::Option::None)
        };
        quote!(#krate::describe::FieldDescription {
            name: #name,
            wire_type: <#ty as #krate::replicated::WireField>::WIRE_TYPE,
            predict: #predict,
            interest: #interest,
        })
    });
    let entity_name = name.to_string();
    let expecting = format!("a delta of {entity_name}");
    let delta_doc = format!(
        "The fields of a [`{entity_name}`] that differ from its dead-reckoned prediction \
         (generated by `#[derive(Replicated)]`). On the wire: bincode, a varint mask of the \
         present fields (bit i = field i in declaration order) and then their values; JSON, \
         an object of the present fields."
    );

    Ok(quote! {
        #[doc = #delta_doc]
        #[derive(Debug, Clone, PartialEq, Default)]
        #vis struct #delta {
            #( pub #idents: ::core::option::Option<#types>, )*
        }

        impl #krate::__private::serde::Serialize for #delta {
            fn serialize<__S>(&self, serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #krate::__private::serde::Serializer,
            {
                use #krate::__private::serde::ser::{SerializeMap, SerializeTuple};
                let present: usize = 0 #( + usize::from(self.#idents.is_some()) )*;
                if serializer.is_human_readable() {
                    let mut map = serializer.serialize_map(::core::option::Option::Some(present))?;
                    #(
                        if let ::core::option::Option::Some(value) = &self.#idents {
                            map.serialize_entry(#names, value)?;
                        }
                    )*
                    map.end()
                } else {
                    let mask: u64 = 0 #( | if self.#idents.is_some() { #bits } else { 0 } )*;
                    let mut tuple = serializer.serialize_tuple(1 + present)?;
                    tuple.serialize_element(&mask)?;
                    #(
                        if let ::core::option::Option::Some(value) = &self.#idents {
                            tuple.serialize_element(value)?;
                        }
                    )*
                    tuple.end()
                }
            }
        }

        impl<'de> #krate::__private::serde::Deserialize<'de> for #delta {
            fn deserialize<__D>(deserializer: __D) -> ::core::result::Result<Self, __D::Error>
            where
                __D: #krate::__private::serde::Deserializer<'de>,
            {
                use #krate::__private::serde::de::{Error, MapAccess, SeqAccess, Visitor};
                const FIELDS: &[&str] = &[#( #names ),*];
                struct DeltaVisitor;
                impl<'de> Visitor<'de> for DeltaVisitor {
                    type Value = #delta;

                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(#expecting)
                    }

                    fn visit_seq<__A>(self, mut seq: __A) -> ::core::result::Result<#delta, __A::Error>
                    where
                        __A: SeqAccess<'de>,
                    {
                        let mask: u64 = seq
                            .next_element()?
                            .ok_or_else(|| Error::invalid_length(0, &self))?;
                        if mask.checked_shr(#field_count as u32).unwrap_or(0) != 0 {
                            return ::core::result::Result::Err(Error::custom(
                                ::core::format_args!("delta mask {mask:#x} names fields beyond the {} of {}", #field_count, #entity_name),
                            ));
                        }
                        let mut delta = #delta::default();
                        let mut read = 1usize;
                        #(
                            if mask & #bits != 0 {
                                delta.#idents = ::core::option::Option::Some(
                                    seq.next_element()?.ok_or_else(|| Error::invalid_length(read, &self))?,
                                );
                                read += 1;
                            }
                        )*
                        let _ = read;
                        ::core::result::Result::Ok(delta)
                    }

                    fn visit_map<__A>(self, mut map: __A) -> ::core::result::Result<#delta, __A::Error>
                    where
                        __A: MapAccess<'de>,
                    {
                        let mut delta = #delta::default();
                        while let ::core::option::Option::Some(key) =
                            map.next_key::<#krate::__private::Cow<'de, str>>()?
                        {
                            match &*key {
                                #(
                                    #names => {
                                        if delta.#idents.is_some() {
                                            return ::core::result::Result::Err(Error::duplicate_field(#names));
                                        }
                                        delta.#idents = ::core::option::Option::Some(map.next_value()?);
                                    }
                                )*
                                other => return ::core::result::Result::Err(Error::unknown_field(other, FIELDS)),
                            }
                        }
                        ::core::result::Result::Ok(delta)
                    }
                }
                if deserializer.is_human_readable() {
                    deserializer.deserialize_map(DeltaVisitor)
                } else {
                    deserializer.deserialize_tuple(#field_count + 1, DeltaVisitor)
                }
            }
        }

        impl #krate::replicated::Replicated for #name {
            type Delta = #delta;

            fn predict(&self, ticks: u32) -> Self {
                let _ = ticks;
                #name { #( #predict_fields, )* }
            }

            fn diff(&self, predicted: &Self) -> ::core::option::Option<#delta> {
                let delta = #delta { #( #diff_fields, )* };
                let changed = false #( || delta.#idents.is_some() )*;
                changed.then_some(delta)
            }

            fn apply(predicted: &Self, delta: &#delta) -> Self {
                #name { #( #apply_fields, )* }
            }

            fn checksum_into(&self, checksum: &mut #krate::replicated::Checksum) {
                #( #krate::replicated::WireField::checksum_into(&self.#idents, checksum); )*
            }

            fn position(&self) -> ::core::option::Option<(i32, i32)> {
                #position
            }

            fn description() -> #krate::describe::EntityDescription {
                #krate::describe::EntityDescription {
                    name: #entity_name,
                    position_scale: #position_scale,
                    fields: ::std::vec![#( #describe_fields ),*],
                }
            }
        }
    })
}

fn parse_options(input: &DeriveInput) -> syn::Result<Options> {
    let mut options = Options {
        krate: syn::parse_quote!(::ticksync_protocol),
        position_scale: 1,
    };
    for attribute in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("replicated"))
    {
        attribute.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                options.krate = path.parse()?;
                Ok(())
            } else if meta.path.is_ident("position_scale") {
                let scale: LitInt = meta.value()?.parse()?;
                options.position_scale = scale.base10_parse()?;
                if options.position_scale == 0 {
                    return Err(meta.error("position_scale must be at least 1"));
                }
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[replicated] option on the struct; expected `position_scale = N` or `crate = \"path\"`",
                ))
            }
        })?;
    }
    Ok(options)
}

fn parse_fields(input: &DeriveInput) -> syn::Result<Vec<Field>> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Replicated)] needs a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            data.fields.span(),
            "#[derive(Replicated)] needs a struct with named fields",
        ));
    };
    let mut fields = Vec::new();
    for field in &named.named {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let mut parsed = Field {
            ident,
            ty: field.ty.clone(),
            predict: None,
            interest_x: false,
            interest_y: false,
        };
        for attribute in field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("replicated"))
        {
            attribute.parse_nested_meta(|meta| {
                if meta.path.is_ident("predict") {
                    let velocity: Ident = meta.value()?.parse()?;
                    parsed.predict = Some(velocity);
                    Ok(())
                } else if meta.path.is_ident("interest_x") {
                    parsed.interest_x = true;
                    Ok(())
                } else if meta.path.is_ident("interest_y") {
                    parsed.interest_y = true;
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown #[replicated] option on a field; expected `predict = VELOCITY_FIELD`, `interest_x` or `interest_y`",
                    ))
                }
            })?;
        }
        fields.push(parsed);
    }
    Ok(fields)
}

fn check_fields(fields: &[Field], input: &DeriveInput) -> syn::Result<()> {
    if fields.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "an entity needs at least one field",
        ));
    }
    if fields.len() > MAX_FIELDS {
        return Err(syn::Error::new(
            input.ident.span(),
            format!(
                "an entity may have at most {MAX_FIELDS} replicated fields; group the rest into fewer"
            ),
        ));
    }
    for field in fields {
        if let Some(velocity) = &field.predict {
            let Some(target) = fields.iter().find(|f| &f.ident == velocity) else {
                return Err(syn::Error::new(
                    velocity.span(),
                    format!("`predict = {velocity}`: the entity has no field `{velocity}`"),
                ));
            };
            if target.predict.is_some() || target.ident == field.ident {
                return Err(syn::Error::new(
                    velocity.span(),
                    format!(
                        "`predict = {velocity}`: a velocity field must not be predicted itself"
                    ),
                ));
            }
        }
        if field.interest_x && field.interest_y {
            return Err(syn::Error::new(
                field.ident.span(),
                "a field is either `interest_x` or `interest_y`, not both",
            ));
        }
    }
    let xs = fields.iter().filter(|f| f.interest_x).count();
    let ys = fields.iter().filter(|f| f.interest_y).count();
    if xs > 1 || ys > 1 || xs != ys {
        return Err(syn::Error::new(
            input.ident.span(),
            "mark exactly one field `interest_x` and one `interest_y` (or neither: then every player sees every entity)",
        ));
    }
    Ok(())
}
